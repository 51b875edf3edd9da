"""The CJK tokenizer: Korean and Chinese words kept (not dropped as emoji), Han runs cut by jieba on request."""
import importlib.util

import pytest
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu_components.cjk_tokenizer import CjkTokenizer


def tokens(tokenizer, text):
    return [(t.text, t.start, t.end) for t in tokenizer.tokenize(Message(data={TEXT: text}), TEXT)]


def cjk(segment_han=False):
    return CjkTokenizer.create({**CjkTokenizer.get_default_config(), "segment_han": segment_han}, None, None, None)


WHITESPACE = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


def test_korean_and_chinese_words_are_kept_where_the_whitespace_tokenizer_drops_them():
    korean, chinese = "USDT TRC20 출금이 안 돼요!", "提币 USDT 没到账"
    assert [t for t, _, _ in tokens(WHITESPACE, korean)] == ["USDT", "TRC20"]  # Rasa's emoji range holds Hangul
    assert tokens(cjk(), korean) == [("USDT", 0, 4), ("TRC20", 5, 10), ("출금이", 11, 14), ("안", 15, 16),
                                     ("돼요", 17, 19)]
    assert tokens(cjk(), chinese) == [("提币", 0, 2), ("USDT", 3, 7), ("没到账", 8, 11)]


def test_english_tokens_and_real_emoji_are_handled_as_rasa_handles_them():
    for text in ("my USDT withdrawal is stuck since 2 hours :)", "thanks 😀 bye", "😀"):
        assert tokens(cjk(), text) == tokens(WHITESPACE, text)
    assert "😀" not in [t for t, _, _ in tokens(cjk(), "테더 출금 안옴 😀")]


@pytest.mark.skipif(importlib.util.find_spec("jieba") is None, reason="jieba is not in the lock (issue-14 bench only)")
def test_han_runs_are_cut_into_words_at_their_places_in_the_message():
    text = "我的USDT提现两个小时了还没到账，怎么办"
    found = tokens(cjk(segment_han=True), text)
    assert all(text[start:end] == word for word, start, end in found)
    assert [w for w, _, _ in found][:4] == ["我", "的", "USDT", "提现"]
    assert "".join(w for w, _, _ in found) == text.replace("，", "")
    korean = "USDT TRC20 출금이 안 돼요!"
    assert tokens(cjk(segment_han=True), korean) == tokens(cjk(), korean)
