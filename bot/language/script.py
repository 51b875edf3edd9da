"""Which of our languages a message is written in, from its script alone.

Hangul is Korean and Han characters without kana are Chinese. Korean and Chinese
customers write coin names, tickers, networks and brands in Latin letters ("USDT TRC20
출금이 안 돼요"), so Latin letters are English only when they outweigh the Korean or
Chinese characters, and only when they read as English: two words or more, one of them a
common English function word, tickers (all capitals) and words with digits (TRC20, 0x...)
left out. Anything else (a txid, an amount, "ok", "Trust Wallet") is no evidence, and the
conversation keeps the language it had.
"""

from __future__ import annotations

import re

from bot.language import CHINESE, ENGLISH, KOREAN

# One CJK character carries about as much as a short English word.
CJK_WEIGHT = 3
_LATIN_WORD = re.compile(r"(?<![\w])[A-Za-z][A-Za-z'\u2019]*(?![\w])")
_FUNCTION_WORDS = frozenset(
    """
    a an the i i'm im me my mine you your we our it its it's is are was were be been am do does did
    don't dont didn't didnt doesn't can can't cant cannot could would will won't should have has had
    not no yes to of in on at for from with by and or but if when why how what where which who this that
    there here please help thanks thank still just any some all
    """.split()
)


def _is_hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f"


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\uf900" <= char <= "\ufaff"


def _is_kana(char: str) -> bool:
    return "\u3040" <= char <= "\u30ff"


def detect(text: str) -> str | None:
    """``en``, ``ko`` or ``zh`` when the script evidence is clear; None when it is not."""
    hangul = han = 0
    for char in text:
        if _is_hangul(char):
            hangul += 1
        elif _is_han(char):
            han += 1
        elif _is_kana(char):
            return None  # Japanese: none of ours, and its kanji are not Chinese
    english = _english_letters(text)
    if (hangul or han) and english <= CJK_WEIGHT * (hangul + han):
        return KOREAN if hangul >= han else CHINESE
    return ENGLISH if english else None


def _english_letters(text: str) -> int:
    """Letters of the words that read as English; 0 unless two or more words and a function word."""
    words = [w for w in _LATIN_WORD.findall(text) if not (len(w) > 1 and w.isupper())]
    lowered = [w.lower().replace("\u2019", "'") for w in words]
    if len(words) < 2 or not any(w in _FUNCTION_WORDS for w in lowered):
        return 0
    return sum(len(w) for w in words)
