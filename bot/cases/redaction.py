"""Find secrets in customer text and replace them with ``[REDACTED]`` before anything keeps it.

Covers the spec's list: seed phrases (``seed_phrases.py``), private keys (hex, WIF, xprv),
API secrets, passwords, 2FA/OTP codes and card numbers. A 64-hex string is a txid when
the bot asked for one or its nearest label calls it a txid/hash, a key when the nearest
label says key, and otherwise redacted as ambiguous so the bot asks again.

Every check is linear in the text and looks around a match only within a few dozen
characters, so a long message costs milliseconds. It is still CPU work: callers on an
event loop run ``redact`` in a thread.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from bot.cases.seed_phrases import seed_phrase_spans

REDACTED = "[REDACTED]"

SEED_PHRASE = "seed_phrase"
PRIVATE_KEY = "private_key"
API_SECRET = "api_secret"
PASSWORD = "password"
OTP_CODE = "otp_code"
CARD_NUMBER = "card_number"
UNLABELLED_HEX = "unlabelled_hex"

_HEX_LABEL = re.compile(
    r"(?P<key>\b(?:private|priv|secret|key|pk|privkey|wif|signing)\b)"
    r"|(?P<txid>\b(?:txid|tx|txn|hash|transaction|trx|explorer|tx\s*id|tx\s*hash)\b|/tx/)",
    re.I,
)
_HEX64 = re.compile(r"(?<![0-9a-fA-Fx])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_WIF = re.compile(r"(?<![1-9A-HJ-NP-Za-km-z])[5KL][1-9A-HJ-NP-Za-km-z]{50,51}(?![1-9A-HJ-NP-Za-km-z])")
_XPRV = re.compile(r"(?<![1-9A-HJ-NP-Za-km-z])[xyzt]prv[1-9A-HJ-NP-Za-km-z]{100,112}(?![1-9A-HJ-NP-Za-km-z])")
_API_SECRET = re.compile(
    r"\b(?:api[\s_-]*secret|secret[\s_-]*key|api[\s_-]*key[\s_-]*secret|secret)\b\s*(?:is|was|:|=|-)?\s*"
    r"(?P<secret>[A-Za-z0-9+/=_\-]{16,})",
    re.I,
)
# "password: x", "password is x", "password for binance is x", and unmarked "password hunter2".
_PASSWORD = re.compile(
    r"(?<![A-Za-z])(?P<label>pass[\s-]?(?:word|code|phrase)|passwd|pwd|pw|pass)(?![A-Za-z])"
    r"(?:\s+(?:for|of|on|to|at)(?:\s+[\w.@-]+){1,3}?(?=\s*[:=]|\s+(?:is|was)\s))?"
    r"(?P<marker>\s*[:=]\s*|\s+(?:is|was)\s+|\s+)(?=(?P<secret>\S+))",  # the secret may hold a label
    re.I,
)
_UNMARKED_LABELS = frozenset({"password", "passwd", "pwd", "passcode", "passphrase"})
_PASSWORD_NOT_SECRET = frozenset(
    "not wrong incorrect correct right invalid expired too still the my a an being rejected fine ok okay "
    "working changed reset same strong weak long short saved stored new old also now and but so just in on "
    "at for from to with definitely case sensitive locked blocked forgotten lost accepted denied declined "
    "refused compromised leaked stolen hacked updated required needed different unknown what is was isn't "
    "wasn't doesn't didn't won't can't".split()
)
_DESCRIPTION = re.compile(r"[a-z]+(?:ed|ing|ly)")  # "password is changed", "... is expiring"
_PASSWORD_LIKE = re.compile(r"\d|[^\w\s'\-.,!?]|[a-z][A-Z]")
_TRAILING_PUNCTUATION = ".,!?;:)]}\"'"
# One code: 4-8 digits, or "123 456" / "123-456"; never a piece of a longer number, id or date.
_NUMBER = re.compile(r"(?<![\w.,/])(?<!\d[ -])(?:\d{3}[ -]\d{3}|\d{4}[ -]\d{4}|\d{4,8})(?![\w]|[.,:/-]\d|[ -]\d)")
_OTP_WORDS = re.compile(
    r"\b(code|codes|otp|2fa|two[\s-]*factor|verification|verify|authenticator|auth|sms|pin|one[\s-]*time|"
    r"totp|mfa|g2fa|token)\b",
    re.I,
)
_NOT_OTP_CONTEXT = re.compile(
    r"\b(error|err|order|uid|id|account|acct|phone|tel|amount|usdt|btc|eth|krw|usd|fee|block|height|ticket)\b", re.I
)
_AMOUNT_UNIT = re.compile(
    r"^(usdt|usdc|btc|eth|krw|usd|eur|xrp|sol|trx|bnb|doge|ada|ltc|coins?|dollars?|won|sats?|satoshis?|"
    r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|times|%)(?!\w)",
    re.I,
)
_MONTHS = (
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|"
    r"september|october|november|december"
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_BEFORE_YEAR = re.compile(rf"\b(?:in|since|from|until|till|by|before|after|of|year|{_MONTHS})$", re.I)
_AFTER_YEAR = re.compile(rf"^(?:{_MONTHS})\b", re.I)
_CARD = re.compile(r"(?<![\w.,-])\d(?:[ .-]?\d){12,18}(?![\w]|[.,-]\d)")
_CARD_LABEL = re.compile(r"\b(?:card|visa|mastercard|amex|credit|debit|cvv|cvc)\b", re.I)
_ID_LABEL = re.compile(
    r"\b(?:order|id|uid|txid|tx|ref|reference|ticket|block|height|phone|tel|account|acct|invoice)\b", re.I
)
_CONTEXT_CHARS = 60  # how far before or after a number its labels are looked for


@dataclass(frozen=True)
class Redaction:
    """The text safe to keep, which kinds of secret were taken out, and where they were in the original."""

    text: str
    kinds: tuple[str, ...]
    spans: tuple[tuple[int, int], ...] = ()  # each replaced by one REDACTED, in order

    @property
    def found_secret(self) -> bool:
        """True when something the customer must rotate was sent."""
        return any(kind != UNLABELLED_HEX for kind in self.kinds)

    @property
    def ambiguous_hash(self) -> bool:
        """True when a bare 64-hex string was removed and the bot should ask what it was."""
        return UNLABELLED_HEX in self.kinds


def redact(text: str, *, txid_expected: bool = False) -> Redaction:
    """Return ``text`` with every secret replaced by ``[REDACTED]``.

    ``txid_expected`` is True when the bot's last question asked for a transaction id,
    so a bare 64-hex answer is kept as the txid.
    """
    return _apply(text, _secrets(text, txid_expected))


def redact_file_name(name: str) -> Redaction:
    """Return a file name without secrets, read both as it is and with "_" as a space.

    Names join words with "_" ("my_password_hunter2.pdf"), yet secrets contain it too
    ("sk_live_..."). A short extension is kept: it says what the file is. A bare 64-hex
    string goes as well: no question will make it a txid.
    """
    stem, extension = os.path.splitext(name)
    if not (len(extension) <= 5 and extension[1:].isalnum()):
        stem = name
    spaced = stem.replace("_", " ")  # same length, so both readings' spans fit ``name``
    return _apply(name, _secrets(stem, False) + _secrets(spaced, False))


def _secrets(text: str, txid_expected: bool) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = [(start, end, SEED_PHRASE) for start, end in seed_phrase_spans(text)]
    spans += [(m.start(), m.end(), PRIVATE_KEY) for m in _WIF.finditer(text)]
    spans += [(m.start(), m.end(), PRIVATE_KEY) for m in _XPRV.finditer(text)]
    spans += _hex_strings(text, txid_expected)
    spans += [(m.start("secret"), m.end("secret"), API_SECRET) for m in _API_SECRET.finditer(text)]
    spans += [(m.start("secret"), m.end("secret"), PASSWORD) for m in _PASSWORD.finditer(text) if _is_password(m)]
    spans += _otp_codes(text)
    spans += _card_numbers(text)
    return spans


def _apply(text: str, spans: list[tuple[int, int, str]]) -> Redaction:
    merged: list[tuple[int, int]] = []
    for start, end, _kind in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out, cursor = [], 0
    for start, end in merged:
        out.append(text[cursor:start])
        out.append(REDACTED)
        cursor = end
    out.append(text[cursor:])
    kinds = tuple(dict.fromkeys(kind for _s, _e, kind in sorted(spans)))
    return Redaction(text="".join(out), kinds=kinds, spans=tuple(merged))


def _hex_strings(text: str, txid_expected: bool) -> list[tuple[int, int, str]]:
    """A 64-hex string is what its nearest label says (a tie counts as a key)."""
    spans: list[tuple[int, int, str]] = []
    for match in _HEX64.finditer(text):
        label = _nearest_label(text[max(0, match.start() - 40) : match.start()], text[match.end() : match.end() + 30])
        if label == "key":
            spans.append((match.start(), match.end(), PRIVATE_KEY))
        elif not (txid_expected or label == "txid"):
            spans.append((match.start(), match.end(), UNLABELLED_HEX))
    return spans


def _nearest_label(before: str, after: str) -> str | None:
    """The label closest to the hex string ("key" or "txid"), or None when there is none."""
    labels = [(len(before) - m.end(), m) for m in _HEX_LABEL.finditer(before)]
    following = _HEX_LABEL.search(after)
    if following is not None:
        labels.append((following.start(), following))
    if not labels:
        return None
    _distance, nearest = min(labels, key=lambda item: (item[0], item[1]["key"] is None))  # a tie: key
    return "key" if nearest["key"] else "txid"


def _is_password(match: re.Match[str]) -> bool:
    """The word after a password label is a password, unless it describes the password.

    Without "is" or ":" the word must look like one (a digit, a symbol, mixed case), so
    "my password hunter2" is a secret and "password manager" is not.
    """
    word = match["secret"].rstrip(_TRAILING_PUNCTUATION)
    if not word or word.lower() in _PASSWORD_NOT_SECRET:
        return False
    if match["marker"].strip():
        return _DESCRIPTION.fullmatch(word) is None
    label = re.sub(r"[\s-]", "", match["label"]).lower()
    return label in _UNMARKED_LABELS and len(word) >= 6 and _PASSWORD_LIKE.search(word) is not None


def _otp_codes(text: str) -> list[tuple[int, int, str]]:
    """4-8 digit numbers next to code/OTP/2FA/verification words (not error or order codes, not years)."""
    spans: list[tuple[int, int, str]] = []
    for match in _NUMBER.finditer(text):
        before = text[max(0, match.start() - _CONTEXT_CHARS) : match.start()].split()[-4:]
        after = text[match.end() : match.end() + _CONTEXT_CHARS].split()[:3]
        if not (_OTP_WORDS.search(" ".join(before)) or _OTP_WORDS.search(" ".join(after))):
            continue
        if _NOT_OTP_CONTEXT.search(" ".join(before[-2:])) or _AMOUNT_UNIT.match(" ".join(after)):
            continue
        if _YEAR.match(match.group()) and (
            (before and _BEFORE_YEAR.search(before[-1].rstrip(","))) or _AFTER_YEAR.match(" ".join(after))
        ):
            continue
        spans.append((match.start(), match.end(), OTP_CODE))
    return spans


def _card_numbers(text: str) -> list[tuple[int, int, str]]:
    """Luhn-valid 13-19 digit numbers, unless labelled as an order, account or other id."""
    spans: list[tuple[int, int, str]] = []
    for match in _CARD.finditer(text):
        if not _luhn_valid(match.group()):
            continue
        before = " ".join(text[max(0, match.start() - _CONTEXT_CHARS) : match.start()].split()[-3:])
        if _ID_LABEL.search(before) and not _CARD_LABEL.search(before):
            continue
        spans.append((match.start(), match.end(), CARD_NUMBER))
    return spans


def _luhn_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
