"""Seed phrases in customer text: runs of BIP-39 words, however the customer wrote them down.

Customers paste seeds numbered ("1. abandon 2. ability"), one word a line, between bullets,
bars, slashes or "and", in any of the BIP-39 languages, copy the four letters a steel
plate keeps ("aban abil"), and mistype a word or two. A run of list words counts as a
seed once 12 of them in a row hold at most two slips (a letter missing, extra, wrong, or
two letters swapped).

The English list holds everyday words ("can you please check this now"), so prose is told
apart by its glue words: twelve random list words rarely hold more than four of them.

Every word is looked up in sets built once, the slips through an index of the list with
one letter dropped, never by fuzzy search over the list: the cost is linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from mnemonic import Mnemonic

SEED_PHRASE_MIN_WORDS = 12
MAX_SLIPS = 2  # misspelt words tolerated among any 12 words in a row
MAX_GAP = 16  # characters between two words of one run: separators, numbering, line breaks
MAX_GLUE = 4  # glue words among any 12 words in a row of a seed (about 1 in 700,000 seeds has more)
SLIP_LANGUAGE = "english"  # the one list whose misspellings and glue words are looked for

# Letters (any script), with combining accents so text in decomposed form stays one word.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u3099\u309a])+")
# Between two words of a run: "and", or the letters of an ordinal ("1st", "2nd", "3rd", "4th").
_JOINERS = frozenset({"and", "st", "nd", "rd", "th"})
_SENTENCE_END = re.compile(r"[?!]")  # never inside a seed, always between sentences
# English list words that glue sentences together.
_GLUE = frozenset(
    "about again all also always any because before can into just more much must never now once only other over "
    "same since still such that then there they this until very what when where will you".split()
)
# Everyday words one letter away from a list word ("the" ~ "then"): never taken for a misspelt one.
_NOT_SLIPS = frozenset(
    "is it my to of in on at an as be by do go he if me no or so up us we am hi ok "
    "the and for not but was are has had did how why who get got see yet new ago set let may out its our his her "
    "him she from with been your does would some were than them here".split()
)


def _fold(word: str) -> str:
    """``word`` as the lists are compared: composed, lower case, accents dropped ("ábaco" is "abaco")."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).casefold()


@lru_cache(maxsize=1)
def _wordlists() -> dict[str, frozenset[str]]:
    """Every BIP-39 list, folded, by language."""
    return {lang: frozenset(_fold(w) for w in Mnemonic(lang).wordlist) for lang in Mnemonic.list_languages()}


@lru_cache(maxsize=1)
def _abbreviations() -> frozenset[str]:
    """The first four letters of the longer English words: BIP-39 makes them unique, wallets accept them."""
    return frozenset(word[:4] for word in _wordlists()[SLIP_LANGUAGE] if len(word) > 4)


@lru_cache(maxsize=1)
def _dropped_letter_index() -> dict[str, tuple[str, ...]]:
    """Each English word with one letter dropped -> the words it can come from."""
    index: dict[str, list[str]] = {}
    for word in _wordlists()[SLIP_LANGUAGE]:
        for variant in _drops(word):
            index.setdefault(variant, []).append(word)
    return {variant: tuple(words) for variant, words in index.items()}


def _drops(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@lru_cache(maxsize=8192)
def _is_slip(token: str) -> bool:
    """True when ``token`` (folded) is one slip away from an English list word, but not one itself."""
    words = _wordlists()[SLIP_LANGUAGE]
    if not 2 <= len(token) <= 9 or token in words or token in _NOT_SLIPS:
        return False
    index = _dropped_letter_index()
    if token in index:
        return True  # a letter missing
    for variant in _drops(token):
        if variant in words:
            return True  # a letter extra
        if any(len(word) == len(token) and _one_apart(token, word) for word in index.get(variant, ())):
            return True  # a letter wrong, or two swapped
    return False


def _one_apart(token: str, word: str) -> bool:
    """Same length, differing in one letter or by two neighbouring letters swapped."""
    diffs = [i for i, (a, b) in enumerate(zip(token, word, strict=True)) if a != b]
    if len(diffs) == 1:
        return True
    if len(diffs) != 2:
        return False
    first, second = diffs
    return second == first + 1 and token[first] == word[second] and token[second] == word[first]


def seed_phrase_spans(text: str) -> list[tuple[int, int]]:
    """Where seed phrases are in ``text``, as (start, end) character ranges."""
    tokens = [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(text)]
    spans: list[tuple[int, int]] = []
    for lang, words in _wordlists().items():
        english = lang == SLIP_LANGUAGE
        spans += _runs(text, tokens, words | _abbreviations() if english else words, english)
    return spans


def _runs(text: str, tokens: list[tuple[int, int, str]], words: frozenset[str], english: bool) -> list[tuple[int, int]]:
    """Runs of list words (and slips) joined only by separators or one joiner, that hold a seed."""
    spans: list[tuple[int, int]] = []
    run: list[tuple[int, int, bool, bool]] = []  # (start, end, slipped, glue)
    reach = 0  # end of the run's last word or joiner
    joined = False  # a joiner follows the run's last word

    def close() -> None:
        if _holds_seed([(slipped, glue) for _s, _e, slipped, glue in run]):
            spans.append((run[0][0], run[-1][1]))
        run.clear()

    for start, end, token in tokens:
        if run and (start - reach > MAX_GAP or _SENTENCE_END.search(text, reach, start)):
            close()
        if token in words:
            run.append((start, end, False, english and token in _GLUE))
            reach, joined = end, False
        elif english and run and not joined and token in _JOINERS:
            reach, joined = end, True
        elif english and _is_slip(token):
            run.append((start, end, True, False))
            reach, joined = end, False
        else:
            close()
    close()
    return spans


def _holds_seed(words: list[tuple[bool, bool]]) -> bool:
    """Twelve words in a row somewhere in the run with few slips and few glue words among them."""
    size = SEED_PHRASE_MIN_WORDS
    if len(words) < size:
        return False
    slips = sum(slipped for slipped, _glue in words[:size])
    glue = sum(glued for _slipped, glued in words[:size])
    if slips <= MAX_SLIPS and glue <= MAX_GLUE:
        return True
    for i in range(size, len(words)):
        slips += words[i][0] - words[i - size][0]
        glue += words[i][1] - words[i - size][1]
        if slips <= MAX_SLIPS and glue <= MAX_GLUE:
            return True
    return False
