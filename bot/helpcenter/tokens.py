"""Search terms for English, Korean and Chinese text, without a dictionary.

Korean and Chinese are written without spaces between words (Korean also glues particles to
them: 출금이, 출금을), so a run of Hangul or Han characters becomes its overlapping
character pairs (출금이 -> 출금, 금이), which match the same word in any form. Han runs also
give their single characters, since many Chinese words are one character (币, 钱). Latin
text becomes lower-case words ("can't" is one word), common function words and lone letters
dropped and plural and -ing/-ed endings cut, so "withdrawals" finds "withdrawal".
"""

from __future__ import annotations

import re
import unicodedata

HANGUL = "\uac00-\ud7a3"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
RUNS = re.compile(f"[{HANGUL}]+|[{HAN}]+|[a-z0-9]+(?:'[a-z]+)*")
STOP_WORDS = frozenset(
    """a about all also am an and any are as at be been but by can could did do does for from had has have he
    hello hi how i if in into is it its just may me might must my no not of on or our out over please she should
    so some than thank thanks that the their them then there these they this those to too up very was we were
    what when where which who why will with would you your i'm i've i'd i'll it's that's there's what's""".split()
)


def terms(text: str) -> list[str]:
    """The search terms of ``text``, in order (repeats kept: BM25 counts them)."""
    found: list[str] = []
    for run in RUNS.findall(unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")):
        if run[0].isascii():
            if run not in STOP_WORDS and not (len(run) == 1 and run.isalpha()):
                found.append(_stem(run))
        elif len(run) == 1:
            found.append(run)
        else:
            found += [run[i : i + 2] for i in range(len(run) - 1)]
            if re.match(f"[{HAN}]", run):
                found += list(run)
    return found


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word
