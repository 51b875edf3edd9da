"""Find secrets in customer text and replace them with ``[REDACTED]`` before anything keeps it.

Covers the spec's list: seed phrases (``seed_phrases.py``), private keys (hex, WIF, xprv,
Solana base58 and byte arrays, PEM), labelled API, 2FA and key secrets
(``labelled_secrets.py``), passwords in the languages customers write (``passwords.py``),
2FA/OTP codes, card numbers and CVVs (``secret_numbers.py``). A 64-hex (or 88-character
base58) string is a txid when the bot asked for one or its nearest label calls it a
txid/hash, a key when the nearest label says key, and otherwise redacted as ambiguous so
the bot asks again.

Every check is linear in the text: the gap between a label and what it names is bounded
(a few characters or words, never any number of spaces) and context is read within a few
dozen characters, so a long message costs milliseconds whatever it holds. It is still CPU
work: callers on an event loop run ``redact`` in a thread.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from bot.cases.labelled_secrets import labelled_secret_spans
from bot.cases.passwords import password_spans
from bot.cases.secret_numbers import card_spans, otp_code_spans
from bot.cases.seed_phrases import seed_phrase_spans

REDACTED = "[REDACTED]"

SEED_PHRASE = "seed_phrase"
PRIVATE_KEY = "private_key"
API_SECRET = "api_secret"
PASSWORD = "password"
OTP_CODE = "otp_code"
CARD_NUMBER = "card_number"
UNLABELLED_HEX = "unlabelled_hex"

_KEY_OR_TXID_LABEL = re.compile(
    r"(?P<key>\b(?:private|priv|secret|key|pk|privkey|wif|signing|seed|mnemonic|keypair)\b)"
    r"|(?P<txid>\b(?:txid|tx|txn|hash|transaction|trx|explorer|tx\s?id|tx\s?hash|signature|sig)\b|/tx/)",
    re.I,
)
_B58 = "1-9A-HJ-NP-Za-km-z"  # base58: no 0, O, I, l
_KEY_OR_TXID = re.compile(
    r"(?<![0-9a-fA-Fx])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9a-fA-F])"  # a 32-byte key or a hash, in hex
    rf"|(?<![{_B58}])[{_B58}]{{86,88}}(?![{_B58}])"  # 64 bytes in base58: a Solana key or signature
)
_KEYS = re.compile(
    rf"(?<![{_B58}])(?:[5KL][{_B58}]{{50,51}}|[xyzt]prv[{_B58}]{{100,112}})(?![{_B58}])"  # WIF, extended keys
    r"|\[\s{0,8}(?:\d{1,3}\s{0,8},\s{0,8}){31,63}\d{1,3}\s{0,8}\]"  # 32 or 64 bytes in JSON (Solana keypair files)
    r"|-----BEGIN [A-Z ]{0,30}PRIVATE KEY-----(?:\s{1,8}[A-Za-z0-9+/=]{16,})*"
    r"(?:\s{1,8}-----END [A-Z ]{0,30}PRIVATE KEY-----)?"
)


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
    """Return a file name without secrets; a short extension is kept: it says what the file is."""
    stem, extension = os.path.splitext(name)
    if not (len(extension) <= 5 and extension[1:].isalnum()):
        stem = name
    return _apply(name, _joined_secrets(stem))


def redact_joined_words(text: str) -> Redaction:
    """Return words joined by "_" (as in a Telegram deep-link payload) without secrets, read as a file name is."""
    return _apply(text, _joined_secrets(text))


def _joined_secrets(text: str) -> list[tuple[int, int, str]]:
    """Secrets in words joined by "_", read both as written and with "_" as a space.

    Names join words with "_" ("my_password_hunter2.pdf"), yet secrets contain it too
    ("sk_live_..."). No marker fits between joined words, so "pw_Hunter2x9Q" is a password.
    A bare 64-hex string goes as well: no question will make it a txid.
    """
    spaced = text.replace("_", " ")  # same length, so both readings' spans fit ``text``
    return _secrets(text, False) + _secrets(spaced, False, joined=True)


def holds_key_or_txid(text: str) -> bool:
    """Whether ``text`` has a string that is a key or a txid depending on the bot's question.

    Only then does the answer to "did the bot ask for a txid?" matter, and finding it out
    costs the channel a read of the whole conversation.
    """
    return _KEY_OR_TXID.search(text) is not None


def _secrets(text: str, txid_expected: bool, *, joined: bool = False) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = [(start, end, SEED_PHRASE) for start, end in seed_phrase_spans(text)]
    spans += [(m.start(), m.end(), PRIVATE_KEY) for m in _KEYS.finditer(text)]
    spans += _keys_or_txids(text, txid_expected)
    api_secrets, labelled_keys = labelled_secret_spans(text)
    spans += [(start, end, API_SECRET) for start, end in api_secrets]
    spans += [(start, end, PRIVATE_KEY) for start, end in labelled_keys]
    spans += [(start, end, PASSWORD) for start, end in password_spans(text, joined=joined)]
    spans += [(start, end, OTP_CODE) for start, end in otp_code_spans(text)]
    spans += [(start, end, CARD_NUMBER) for start, end in card_spans(text)]
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


def _keys_or_txids(text: str, txid_expected: bool) -> list[tuple[int, int, str]]:
    """A 64-hex (or 88-base58) string is what its nearest label says (a tie counts as a key)."""
    spans: list[tuple[int, int, str]] = []
    for match in _KEY_OR_TXID.finditer(text):
        label = _nearest_label(text[max(0, match.start() - 40) : match.start()], text[match.end() : match.end() + 30])
        if label == "key":
            spans.append((match.start(), match.end(), PRIVATE_KEY))
        elif not (txid_expected or label == "txid"):
            spans.append((match.start(), match.end(), UNLABELLED_HEX))
    return spans


def _nearest_label(before: str, after: str) -> str | None:
    """The label closest to the hex string ("key" or "txid"), or None when there is none."""
    labels = [(len(before) - m.end(), m) for m in _KEY_OR_TXID_LABEL.finditer(before)]
    following = _KEY_OR_TXID_LABEL.search(after)
    if following is not None:
        labels.append((following.start(), following))
    if not labels:
        return None
    _distance, nearest = min(labels, key=lambda item: (item[0], item[1]["key"] is None))  # a tie: key
    return "key" if nearest["key"] else "txid"
