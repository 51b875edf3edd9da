"""Every text the customer sees exists in English, Korean and Chinese, with the same buttons and slots."""

import re
import string

import pytest

from bot.language import LANGUAGES
from bot.language.variations import for_language, language_of
from tests.auxil.action_trackers import domain

RESPONSES = domain()["responses"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
HAN = re.compile(r"[\u4e00-\u9fff]")
# Safety texts: the warnings the spec requires, word for word in each language.
MUST_SAY = {
    "utter_security_steps": {
        "ko": ["비밀번호를 변경", "API 키", "화이트리스트", "절대 알려 주지 마세요", "{case_id}"],
        "zh": ["修改密码", "API 密钥", "白名单", "切勿向任何人", "{case_id}"],
    },
    "utter_secret_redacted": {"ko": ["절대 알려 주지 마세요"], "zh": ["请勿向任何人"]},
    "utter_ask_account_ref": {"ko": ["절대 보내지 마세요"], "zh": ["切勿发送密码"]},
    "utter_phishing_warning": {"ko": ["절대 요구하지 않습니다"], "zh": ["绝不会索要"]},
}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_has_one_variation_per_language_and_english_is_the_default(name):
    variations = RESPONSES[name]
    assert sorted(language_of(v) or "en" for v in variations) == sorted(LANGUAGES), name
    assert language_of(variations[0]) is None, "the English text comes first, unconditioned"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_translations_keep_the_slots_and_buttons_and_are_in_their_script(name):
    english = for_language(RESPONSES[name], "en")
    for language, script in (("ko", HANGUL), ("zh", HAN)):
        translated = for_language(RESPONSES[name], language)
        assert translated is not english, f"{name} has no {language} text"
        assert placeholders(translated["text"]) == placeholders(english["text"]), (name, language)
        assert script.search(translated["text"]), f"{name} [{language}] is not written in its script"
        english_buttons, buttons = english.get("buttons") or [], translated.get("buttons") or []
        assert [b["payload"] for b in buttons] == [b["payload"] for b in english_buttons], (name, language)
        if name != "utter_language_set":  # the three languages' names, each in its own script
            titles = zip(buttons, english_buttons, strict=True)
            assert all(b["title"] != e["title"] for b, e in titles), (name, language)


@pytest.mark.parametrize("name", sorted(MUST_SAY))
def test_security_warnings_say_all_of_it_in_every_language(name):
    for language, phrases in MUST_SAY[name].items():
        text = for_language(RESPONSES[name], language)["text"]
        assert all(p in text for p in phrases), (name, language, [p for p in phrases if p not in text])


def test_the_p1_steps_are_the_same_four_steps_in_every_language():
    for language in LANGUAGES:
        text = for_language(RESPONSES["utter_security_steps"], language)["text"]
        assert re.findall(r"^(\d)\. ", text, re.M) == ["1", "2", "3", "4"], language
