"""Seed phrases however a customer writes them down: property tests over random seeds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from bot.cases.seed_phrases import seed_phrase_spans

SEPARATORS = [" ", ", ", "\n", " \u2022 ", " | ", "/", " - ", " and ", "; ", "\t", "  "]
NUMBERINGS = ["{word}", "{i}. {word}", "{i}) {word}", "#{i} {word}", "{i}: {word}", "({i}) {word}"]
ENGLISH = Mnemonic("english")
BEFORE, AFTER = "my wallet words: ", ". Is it ok?"
CONTEXT = set(re.findall(r"[a-z]+", (BEFORE + AFTER).lower()))


def _slipped(word: str, kind: int, at: int) -> str:
    """One typo: a letter dropped, doubled, swapped with the next, or replaced."""
    i = at % (len(word) - 1)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + ("z" if word[i] != "z" else "q") + word[i + 1 :]


@st.composite
def written_seeds(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A random 12-24 word seed as a customer might type it, with up to two typos; and its words."""
    words = ENGLISH.to_mnemonic(draw(st.binary(min_size=16, max_size=32).filter(lambda b: len(b) % 4 == 0))).split()
    typed = list(words)
    long_words = [i for i, w in enumerate(words) if len(w) >= 5]
    for index in draw(st.lists(st.sampled_from(long_words), max_size=2, unique=True)):
        typed[index] = _slipped(words[index], draw(st.integers(0, 3)), draw(st.integers(0, 10)))
    if draw(st.booleans()):
        typed = [w.upper() for w in typed]
    numbering = draw(st.sampled_from(NUMBERINGS))
    separator = draw(st.sampled_from(SEPARATORS))
    text = separator.join(numbering.format(i=i, word=w) for i, w in enumerate(typed, 1))
    return f"{BEFORE}{text}{AFTER}", words


@settings(max_examples=300, deadline=None)
@given(written_seeds())
def test_every_word_of_a_written_seed_is_inside_one_span(case: tuple[str, list[str]]) -> None:
    text, words = case
    spans = seed_phrase_spans(text)
    assert spans, text
    outside = "".join(c if not any(s <= i < e for s, e in spans) else " " for i, c in enumerate(text))
    assert not set(re.findall(r"[a-z]+", outside.lower())) & (set(words) - CONTEXT), (text, outside)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ENGLISH.wordlist), min_size=1, max_size=11), st.sampled_from(SEPARATORS))
def test_fewer_than_twelve_list_words_are_never_a_seed(words: list[str], separator: str) -> None:
    assert seed_phrase_spans(f"why is {separator.join(words)} not working?") == []
