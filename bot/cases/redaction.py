"""Find secrets in customer text and replace them with ``[REDACTED]`` before anything keeps it.

Covers the spec's list: seed phrases (12-24 BIP-39 words), private keys (hex, WIF, xprv),
API secrets, passwords, 2FA/OTP codes and card numbers. A 64-hex string is a txid when
the bot asked for one or the customer calls it a txid/hash, a key when labelled as one,
and otherwise redacted as ambiguous so the bot asks again.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from mnemonic import Mnemonic

REDACTED = "[REDACTED]"
SEED_PHRASE_MIN_WORDS = 12

SEED_PHRASE = "seed_phrase"
PRIVATE_KEY = "private_key"
API_SECRET = "api_secret"
PASSWORD = "password"
OTP_CODE = "otp_code"
CARD_NUMBER = "card_number"
UNLABELLED_HEX = "unlabelled_hex"

_KEY_LABEL = re.compile(r"\b(private|priv|secret|key|pk|privkey|wif|signing)\b", re.I)
_TXID_LABEL = re.compile(r"\b(txid|tx|txn|hash|transaction|trx|explorer|tx\s*id|tx\s*hash)\b|/tx/", re.I)
_HEX64 = re.compile(r"(?<![0-9a-fA-Fx])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_WIF = re.compile(r"\b[5KL][1-9A-HJ-NP-Za-km-z]{50,51}\b")
_XPRV = re.compile(r"\b[xyzt]prv[1-9A-HJ-NP-Za-km-z]{100,112}\b")
_API_SECRET = re.compile(
    r"\b(api[\s_-]*secret|secret[\s_-]*key|api[\s_-]*key[\s_-]*secret|secret)\b\s*(?:is|was|:|=|-)?\s*"
    r"(?P<secret>[A-Za-z0-9+/=_\-]{16,})"
)
_PASSWORD = re.compile(
    r"\b(password|passwd|pwd|pass|pw|passcode|passphrase)\b\s*(?P<marker>is|was|:|=|-)\s*(?P<secret>\S+)", re.I
)
_PASSWORD_NOT_SECRET = frozenset(
    "not wrong incorrect correct right invalid expired too still the my a an being rejected fine ok okay "
    "working changed reset same strong weak long short saved stored new old also now and but so just in on "
    "at for from to with definitely case sensitive locked blocked forgotten lost accepted".split()
)
_NUMBER = re.compile(r"(?<![\d.,])\d{4,8}(?![\d.,]*\d)")
_OTP_WORDS = re.compile(
    r"\b(code|codes|otp|2fa|two[\s-]*factor|verification|verify|authenticator|auth|sms|pin|one[\s-]*time|"
    r"totp|mfa|g2fa|token)\b",
    re.I,
)
_NOT_OTP_CONTEXT = re.compile(
    r"\b(error|err|order|uid|id|account|acct|phone|tel|amount|usdt|btc|eth|krw|usd|fee|block|height|ticket)\b", re.I
)
_AMOUNT_UNIT = re.compile(
    r"^(usdt|usdc|btc|eth|krw|usd|eur|xrp|sol|trx|bnb|doge|ada|ltc|coins?|dollars?|won|sats?|satoshis?)\b", re.I
)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_WORD = re.compile(r"[A-Za-z]+")
_SEED_GAP = re.compile(r"^[\s,;.:\-\d)(\]\[\"']*$")


@dataclass(frozen=True)
class Redaction:
    """The text safe to keep, and which kinds of secret were taken out of it."""

    text: str
    kinds: tuple[str, ...]

    @property
    def found_secret(self) -> bool:
        """True when something the customer must rotate was sent."""
        return any(kind != UNLABELLED_HEX for kind in self.kinds)

    @property
    def ambiguous_hash(self) -> bool:
        """True when a bare 64-hex string was removed and the bot should ask what it was."""
        return UNLABELLED_HEX in self.kinds


@lru_cache(maxsize=1)
def _bip39_words() -> frozenset[str]:
    return frozenset(Mnemonic("english").wordlist)


def redact(text: str, *, txid_expected: bool = False) -> Redaction:
    """Return ``text`` with every secret replaced by ``[REDACTED]``.

    ``txid_expected`` is True when the bot's last question asked for a transaction id,
    so a bare 64-hex answer is kept as the txid.
    """
    spans: list[tuple[int, int, str]] = []
    spans += _seed_phrases(text)
    spans += [(m.start(), m.end(), PRIVATE_KEY) for m in _WIF.finditer(text)]
    spans += [(m.start(), m.end(), PRIVATE_KEY) for m in _XPRV.finditer(text)]
    spans += _hex_strings(text, txid_expected)
    spans += [(m.start("secret"), m.end("secret"), API_SECRET) for m in _API_SECRET.finditer(text)]
    spans += [
        (m.start("secret"), m.end("secret"), PASSWORD)
        for m in _PASSWORD.finditer(text)
        if m.group("secret").strip(".,!?").lower() not in _PASSWORD_NOT_SECRET
    ]
    spans += _otp_codes(text)
    spans += [(m.start(), m.end(), CARD_NUMBER) for m in _CARD.finditer(text) if _luhn_valid(m.group())]
    return _apply(text, spans)


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
    return Redaction(text="".join(out), kinds=kinds)


def _seed_phrases(text: str) -> list[tuple[int, int, str]]:
    """Runs of 12 or more BIP-39 words (one misspelt word per run tolerated)."""
    words = _bip39_words()
    spans: list[tuple[int, int, str]] = []
    run: list[re.Match[str]] = []
    misses = 0

    def close_run() -> None:
        if len(run) >= SEED_PHRASE_MIN_WORDS:
            spans.append((run[0].start(), run[-1].end(), SEED_PHRASE))

    for match in _WORD.finditer(text):
        word = match.group().lower()
        in_list = word in words
        near = not in_list and misses == 0 and len(word) >= 3 and bool(difflib.get_close_matches(word, words, 1, 0.8))
        contiguous = bool(run) and _SEED_GAP.match(text[run[-1].end() : match.start()]) is not None
        if (in_list or near) and (contiguous or not run):
            run.append(match)
            misses += 0 if in_list else 1
            continue
        close_run()
        run, misses = ([match], 0) if in_list else ([], 0)
    close_run()
    return spans


def _hex_strings(text: str, txid_expected: bool) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for match in _HEX64.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        after = text[match.end() : match.end() + 30]
        if _KEY_LABEL.search(before) or _KEY_LABEL.search(after):
            spans.append((match.start(), match.end(), PRIVATE_KEY))
        elif txid_expected or _TXID_LABEL.search(before) or _TXID_LABEL.search(after):
            continue
        else:
            spans.append((match.start(), match.end(), UNLABELLED_HEX))
    return spans


def _otp_codes(text: str) -> list[tuple[int, int, str]]:
    """4-8 digit numbers next to code/OTP/2FA/verification words (not error or order codes)."""
    spans: list[tuple[int, int, str]] = []
    for match in _NUMBER.finditer(text):
        before = " ".join(text[: match.start()].split()[-4:])
        after = " ".join(text[match.end() :].split()[:3])
        if not (_OTP_WORDS.search(before) or _OTP_WORDS.search(after)):
            continue
        if _NOT_OTP_CONTEXT.search(" ".join(before.split()[-2:])) or _AMOUNT_UNIT.match(after):
            continue
        spans.append((match.start(), match.end(), OTP_CODE))
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
