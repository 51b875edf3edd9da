"""Picking a response's variation for a language, as Rasa picks it by the `language` slot."""

import pytest

from bot.language.variations import UnknownVariation, for_language, language_of

ENGLISH = {"text": "Hello"}
KOREAN = {"condition": [{"type": "slot", "name": "language", "value": "ko"}], "text": "안녕하세요"}
CHINESE = {"condition": [{"type": "slot", "name": "language", "value": "zh"}], "text": "您好"}


def test_the_languages_variation_else_the_unconditioned_english():
    variations = [ENGLISH, KOREAN, CHINESE]
    assert for_language(variations, "ko") is KOREAN
    assert for_language(variations, "zh") is CHINESE
    assert for_language(variations, "en") is ENGLISH
    assert for_language([KOREAN, ENGLISH], "fr") is ENGLISH


def test_without_a_default_an_unknown_language_is_an_error():
    with pytest.raises(UnknownVariation):
        for_language([KOREAN], "zh")


def test_a_condition_on_another_slot_is_refused_not_ignored():
    other = {"condition": [{"type": "slot", "name": "case_family", "value": "funds"}], "text": "x"}
    with pytest.raises(ValueError, match="something else"):
        language_of(other)
