"""Seed phrases in customer text: runs of BIP-39 words, however the customer wrote them down.

Customers paste seeds numbered ("1. abandon 2. ability"), one word a line, between bullets,
bars, slashes or "and", in any of the BIP-39 languages, copy the four letters a steel
plate keeps ("aban abil"), and mistype a word or two. A run of list words counts as a
seed once 12 of them in a row hold at most two slips (a letter missing, extra, wrong, or
two letters swapped). Two halves split by a short aside ("... sausage", a line break,
"(and the rest) worth ...") are read as one run; half a seed counts when the customer
calls it one ("my seed starts legal winner thank year wave sausage"); words run together
("legalwinnerthank...") count when they split into 12 list words; Cyrillic and Greek
letters drawn like Latin ones (a Cyrillic "a" in "legal") are read as the Latin ones.

The English list holds everyday words ("can you please check this now"), so prose is told
apart by its glue words: twelve random list words rarely hold more than four of them.

Every word is looked up in sets built once, the slips through an index of the list with
one letter dropped, never by fuzzy search over the list, and a run-together word is split
by a pass over its letters: the cost is linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from mnemonic import Mnemonic

SEED_PHRASE_MIN_WORDS = 12
HALF_SEED_WORDS = SEED_PHRASE_MIN_WORDS // 2
MAX_SLIPS = 2  # misspelt words tolerated among any 12 words in a row
MAX_GAP = 16  # characters between two words of one run: separators, numbering, line breaks
MAX_GLUE = 4  # glue words among any 12 words in a row of a seed (about 1 in 700,000 seeds has more)
MAX_ASIDE = 24  # characters between two halves of one seed: "\n(and the rest) "
LABEL_REACH = 40  # characters before half a seed that are searched for what the customer calls it
SLIP_LANGUAGE = "english"  # the one list whose misspellings and glue words are looked for

# Letters (any script), with combining accents so text in decomposed form stays one word.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u3099\u309a])+")
# Between two words of a run: "and", or the letters of an ordinal ("1st", "2nd", "3rd", "4th").
_JOINERS = frozenset({"and", "st", "nd", "rd", "th"})
_SENTENCE_END = re.compile(r"[?!]")  # never inside a seed, always between sentences
_SEED_LABEL = re.compile(r"\b(?:seed|mnemonic|recovery|phrase|words|semilla|frase)\b", re.I)
# Cyrillic and Greek letters drawn like Latin ones (lower case: words are compared case-folded).
_LOOKALIKES = str.maketrans("авекмнорстухіјѕԁһӏԛԝαορινκτυχε", "abekmhopctyxijsdhlqwaopivktuxe")
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
    return unicodedata.normalize("NFC", bare).casefold().translate(_LOOKALIKES)


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
        spans += _seeds(text, _runs(text, tokens, words | _abbreviations() if english else words, english))
    spans += [(start, end) for start, end, token in tokens if _run_together(token)]
    return spans


_Word = tuple[int, int, bool, bool]  # start, end, slipped, glue


def _runs(text: str, tokens: list[tuple[int, int, str]], words: frozenset[str], english: bool) -> list[list[_Word]]:
    """Runs of list words (and slips) joined only by separators or one joiner, of half a seed or more."""
    runs: list[list[_Word]] = []
    run: list[_Word] = []
    reach = 0  # end of the run's last word or joiner
    joined = False  # a joiner follows the run's last word

    def close() -> None:
        if len(run) >= HALF_SEED_WORDS:
            runs.append(run.copy())
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
    return runs


def _seeds(text: str, runs: list[list[_Word]]) -> list[tuple[int, int]]:
    """The runs that hold a seed, or two halves of one parted by a short aside, or a half called a seed."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        run, following = runs[i], runs[i + 1] if i + 1 < len(runs) else []
        if _holds_seed(run, SEED_PHRASE_MIN_WORDS, MAX_SLIPS, MAX_GLUE):
            spans.append((run[0][0], run[-1][1]))
        elif (
            following
            and _aside(text, run[-1][1], following[0][0])
            and not _holds_seed(following, SEED_PHRASE_MIN_WORDS, MAX_SLIPS, MAX_GLUE)
            and _holds_seed(run + following, SEED_PHRASE_MIN_WORDS, MAX_SLIPS, MAX_GLUE)
        ):
            spans.append((run[0][0], following[-1][1]))
            i += 1
        else:
            spans += _half_seed(text, run)
        i += 1
    return spans


def _aside(text: str, end: int, start: int) -> bool:
    """True when the text between two runs is a short aside, not a new sentence."""
    return start - end <= MAX_ASIDE and not _SENTENCE_END.search(text, end, start)


def _half_seed(text: str, run: list[_Word]) -> list[tuple[int, int]]:
    """Half a seed or more, right after the customer calls it a seed ("my seed starts ..."), to the run's end."""
    for i in _windows(run, HALF_SEED_WORDS, MAX_SLIPS // 2, MAX_GLUE // 2):
        if _SEED_LABEL.search(text, max(0, run[i][0] - LABEL_REACH), run[i][0]):
            return [(run[i][0], run[-1][1])]
    return []


def _holds_seed(words: list[_Word], size: int, max_slips: int, max_glue: int) -> bool:
    """``size`` words in a row somewhere in the run with few slips and few glue words among them."""
    return next(_windows(words, size, max_slips, max_glue), None) is not None


def _windows(words: list[_Word], size: int, max_slips: int, max_glue: int) -> Iterator[int]:
    """Where each ``size`` words in a row with few slips and few glue words among them start."""
    if len(words) < size:
        return
    slips = sum(word[2] for word in words[:size])
    glue = sum(word[3] for word in words[:size])
    for i in range(size, len(words) + 1):
        if slips <= max_slips and glue <= max_glue:
            yield i - size
        if i < len(words):
            slips += words[i][2] - words[i - size][2]
            glue += words[i][3] - words[i - size][3]


def _run_together(token: str) -> bool:
    """True when ``token`` (folded) is 12 or more English list words written without spaces."""
    if len(token) < 3 * SEED_PHRASE_MIN_WORDS:
        return False
    words = _wordlists()[SLIP_LANGUAGE]
    most = [0] + [-1] * len(token)  # most list words token[:i] splits into exactly, -1 for none
    for end in range(3, len(token) + 1):
        for size in range(3, min(8, end) + 1):
            if most[end - size] >= 0 and token[end - size : end] in words:
                most[end] = max(most[end], most[end - size] + 1)
    return most[-1] >= SEED_PHRASE_MIN_WORDS
