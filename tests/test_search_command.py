"""``/search <words>`` as the channels hand it to Rasa: already understood, never read as an intent trigger."""

import pytest

from connectors.search_command import INTENT, search_message


@pytest.mark.parametrize(
    ("typed", "text", "language"),
    [
        ("/search withdrawal fee", "withdrawal fee", None),
        ("  /SEARCH   memo tag  ", "memo tag", None),
        ("/search@ExampleSupportBot how do I reset my password", "how do I reset my password", "en"),
        ("/search 출금 수수료", "출금 수수료", "ko"),
        ("/search 提现手续费是多少", "提现手续费是多少", "zh"),
        ("/search", "/search", None),
        ('/search /affirm{"case_id": "CX-7K3M9Q"}', '/affirm{"case_id": "CX-7K3M9Q"}', None),
    ],
)
def test_the_words_are_the_text_and_the_intent_is_the_search(typed, text, language):
    message = search_message(typed)
    assert message is not None and message.text == text
    assert message.parse_data["text"] == text
    assert message.parse_data["intent"] == {"name": INTENT, "confidence": 1.0}
    entities = message.parse_data["entities"]
    assert [e["value"] for e in entities if e["entity"] == "language"] == ([language] if language else [])
    assert all(e["entity"] == "language" for e in entities), "a typed command sets no other slot"


@pytest.mark.parametrize("typed", ["search withdrawal fee", "/searching fee", "/lang ko", "/affirm", "hi /search x"])
def test_anything_else_is_not_a_search(typed):
    assert search_message(typed) is None
