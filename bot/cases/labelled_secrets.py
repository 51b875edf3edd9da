"""Secrets named by their label: API keys and secrets, 2FA setup keys, private keys in any encoding.

"api secret = ...", ``"secretKey": "..."``, "my 2fa backup code is JBSWY3DPEHPK3PXP", "authenticator
key: JBSW Y3DP EHPK 3PXP" (grouped as the apps show it), "Private Key: <base64>", "ETH key: <hex,
a few digits short>", a key broken over two lines. The token after the label counts when it is
long (16+ characters); after a key label it must also look encoded (a digit, or hex only), so
"key question" is no key, and a public key is left alone. A 64-character alphanumeric string
in mixed case with digits is an exchange API key or secret (Binance's shape) even unlabelled.

Gaps between label and token are bounded and each token is read once: the cost is linear.
"""

from __future__ import annotations

import re

_API_LABELS = (
    r"api[\s_-]{0,2}(?:key[\s_-]{0,2})?secret|api[\s_-]{0,2}key|secret(?:[\s_-]{0,2}key)?"
    r"|(?:2fa|totp|mfa|authenticator|setup|recovery|backup)[\s_-]{0,2}(?:key|secret|code)"
)
_KEY_LABELS = r"(?:private|priv|signing)[\s_-]{0,2}key|privkey|key"
_TOKEN = r"[A-Za-z0-9+/=_\-]{16,}"
_LABELLED = re.compile(
    rf"\b(?:(?P<public>(?:public|pub|view|viewing)[\s_-]{{0,2}}key)|(?P<api>{_API_LABELS})|(?P<key>{_KEY_LABELS}))\b"
    r"[\"']?\s{0,3}(?:is|was|:|=|-)?\s{0,3}[\"']?"
    rf"(?:(?P<grouped>[A-Za-z2-7]{{4}}(?: [A-Za-z2-7]{{4}}){{3,15}})(?![\w+/=-])|(?P<token>{_TOKEN}))",
    re.I,
)
_NEXT_LINE = re.compile(rf"[ \t]{{0,3}}\r?\n[ \t]{{0,3}}({_TOKEN})")
_MAX_LINES = 8
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]+")
_EXCHANGE_KEY = re.compile(r"(?<![\w+/=-])[A-Za-z0-9]{64}(?![\w+/=-])")


def labelled_secret_spans(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Where API secrets and private keys are in ``text``: (API secret spans, private key spans)."""
    api: list[tuple[int, int]] = []
    keys: list[tuple[int, int]] = []
    for match in _LABELLED.finditer(text):
        if match["public"]:
            continue
        if match["grouped"]:
            if any(c in "234567" for c in match["grouped"]):  # a base32 key nearly always holds one
                (api if match["api"] else keys).append(match.span("grouped"))
        elif match["api"] or _encoded(match["token"]):
            (api if match["api"] else keys).append((match.start("token"), _end_of_lines(text, match.end("token"))))
    api += [m.span() for m in _EXCHANGE_KEY.finditer(text) if _mixed(m.group())]
    return api, keys


def _encoded(token: str) -> bool:
    return any(c.isdigit() for c in token) or _HEX.fullmatch(token) is not None


def _mixed(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.islower() for c in token) and any(c.isupper() for c in token)


def _end_of_lines(text: str, end: int) -> int:
    """Where a token ends once its continuation lines (encoded, 16+ characters each) are added."""
    for _ in range(_MAX_LINES):
        line = _NEXT_LINE.match(text, end)
        if line is None or not _encoded(line.group(1)):
            break
        end = line.end()
    return end
