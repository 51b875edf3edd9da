"""Rules for what the support account says in public: X's weighted length, and what must not be there.

A public post may hold no personal detail: when the customer's own post exposes one (or a
secret), the reply warns them to delete it, and nothing here ever quotes it back.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
ELLIPSIS = "…"

EMAIL, PHONE, TXID, WALLET_ADDRESS, ACCOUNT_ID = "email", "phone", "txid", "wallet_address", "account_id"

# twitter-text v3: these code points weigh 1, every other one 2; every URL weighs 23.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"(?:https?://)?(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?:/\S*)?", re.I)
_HANDLE = re.compile(r"^(?:\s*@\w+)+\s*")

_PERSONAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    (EMAIL, re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    (TXID, re.compile(r"(?<![0-9a-fA-F])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")),
    (
        WALLET_ADDRESS,
        re.compile(
            r"\b(?:bc1[ac-hj-np-z02-9]{25,87}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33})\b"
        ),
    ),
    (
        ACCOUNT_ID,
        re.compile(r"\b(?:uid|user\s*id|account\s*(?:id|number|no\.?)|acct)\s*[:#=]?\s*[A-Za-z0-9-]{4,}", re.I),
    ),
    (PHONE, re.compile(r"(?<![\w+])\+?\d(?:[\s().-]?\d){8,14}(?!\w)")),
)


def weighted_length(text: str) -> int:
    """Length as X counts it against the 280 limit."""
    normalized = unicodedata.normalize("NFC", text)
    total, cursor = 0, 0
    for match in _URL.finditer(normalized):
        total += _weight(normalized[cursor : match.start()]) + URL_WEIGHT
        cursor = match.end()
    return total + _weight(normalized[cursor:])


def _weight(text: str) -> int:
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _LIGHT_RANGES) else 2 for ch in text)


def fit(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> str:
    """``text`` within ``limit``: shorten the prose word by word, keeping any links whole."""
    if weighted_length(text) <= limit:
        return text
    links = [m.group() for m in _URL.finditer(text)]
    prose = _URL.sub("", text).split()
    tail = (" " + " ".join(links)) if links else ""
    while prose and weighted_length(" ".join(prose) + ELLIPSIS + tail) > limit:
        prose.pop()
    return (" ".join(prose) + ELLIPSIS + tail).strip()


def personal_data(text: str) -> tuple[str, ...]:
    """Kinds of personal detail in a public post (emails, phone numbers, txids, addresses, account ids)."""
    return tuple(kind for kind, pattern in _PERSONAL if pattern.search(text))


def without_handles(text: str) -> str:
    """The post without the leading @mentions, as the customer meant it."""
    return _HANDLE.sub("", text).strip()
