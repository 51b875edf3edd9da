"""Seed phrases however a customer writes them down: property tests over random seeds, and the odd ways found."""

from __future__ import annotations

import re

import pytest
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


UNLABELLING = [w for w in ENGLISH.wordlist if w not in {"seed", "phrase"}]  # half a seed counts after these


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(UNLABELLING), min_size=1, max_size=11), st.sampled_from(SEPARATORS))
def test_fewer_than_twelve_list_words_are_never_a_seed(words: list[str], separator: str) -> None:
    assert seed_phrase_spans(f"why is {separator.join(words)} not working?") == []


def _outside(text: str) -> str:
    """``text`` with every seed phrase span blanked out."""
    spans = seed_phrase_spans(text)
    return "".join(" " if any(s <= i < e for s, e in spans) else c for i, c in enumerate(text))


LEGAL = "legal winner thank year wave sausage worth useful legal winner thank yellow"


@pytest.mark.parametrize(
    "text,word",
    [
        (LEGAL.replace("sausage ", "sausage\n(and the rest) "), "sausage"),
        (LEGAL.replace("sausage ", "sausage ... "), "worth"),
        (LEGAL.replace("a", "\u0430"), "s\u0430us\u0430ge"),  # Cyrillic "a"
        (LEGAL.replace("e", "\u0435").replace("o", "\u03bf"), "w\u03bfrth"),  # Cyrillic "e", Greek "o"
        (LEGAL.replace(" ", ""), "sausageworth"),
        (LEGAL.title().replace(" ", ""), "SausageWorth"),
        ("my seed starts legal winner thank year wave sausage, is that enough?", "sausage"),
        ("first six words of my recovery phrase: legal winner thank year wave sausage", "legal winner"),
    ],
    ids=["aside", "ellipsis", "cyrillic", "mixed scripts", "run together", "run together, capitals", "half", "half 2"],
)
def test_split_disguised_run_together_and_half_seeds_are_found(text: str, word: str) -> None:
    assert word not in _outside(text)


@pytest.mark.parametrize(
    "text",
    [
        "my seed phrase has twelve words, is that normal",
        "my seed phrase: can you check this now please",
        "the seed words are in the drawer of my office desk",
        "seed phrase question: which wallet supports twelve word seeds",
        "internationalizationsupercalifragilisticexpialidocious",
        "legal winner thank year wave sausage",  # six list words, not called a seed
        "\u043c\u043e\u0439 \u043a\u043e\u0448\u0435\u043b\u0435\u043a \u043f\u0443\u0441\u0442",  # my wallet is empty
    ],
)
def test_talk_about_seeds_and_short_runs_are_no_seed(text: str) -> None:
    assert seed_phrase_spans(text) == []
