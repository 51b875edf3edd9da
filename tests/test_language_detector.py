"""The NLU component: a `language` entity only on clear script evidence, nothing else touched."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu_components.language_detector import LanguageDetector


def entities_of(*texts):
    messages = [Message(data={"text": t, "entities": [{"entity": "coin", "value": "USDT"}]}) for t in texts]
    return [m.get("entities") for m in LanguageDetector().process(messages)]


def test_clear_messages_get_a_language_entity_after_the_others():
    korean, chinese, english = entities_of("USDT 출금이 안 돼요", "USDT提现没到账", "my USDT withdrawal is stuck")
    assert [e["entity"] for e in korean] == ["coin", "language"]
    assert (korean[1]["value"], chinese[1]["value"], english[1]["value"]) == ("ko", "zh", "en")


def test_a_message_without_evidence_keeps_its_entities_unchanged():
    [only_coin] = entities_of("USDT")
    assert only_coin == [{"entity": "coin", "value": "USDT"}]
