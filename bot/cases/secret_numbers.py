"""Numbers that are secrets: one-time codes, card numbers and CVVs.

Support text is full of numbers (amounts, order and account ids, error codes, block
heights, dates, phone numbers), so a number is a secret only by its shape and the words
next to it: a code sits by "code", "OTP", "2FA", "código", "인증번호"... (or a few words
further back when "is" or ":" comes just before it: "the code they sent me is 839201"), is
not glued to a longer number, and is not a year after "in" or "since"; "otp482913" is a
code glued to its label. A card passes the Luhn check and is not labelled as an id; a CVV
follows its label, perhaps a few words on ("security code on the back is 123"). Context is
read within a few dozen characters, so the cost is linear.
"""

from __future__ import annotations

import re

# One code: 4-8 digits, or "123 456", "123-456", "12 34 56", "1 2 3 4 5 6"; never a piece of a
# longer number, id ("#20240512") or date. Letters of other scripts may touch it ("验证码482913").
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.,/#])(?<!\d[ -])"
    r"(?:\d{3}[ -]\d{3}|\d{4}[ -]\d{4}|\d{2} \d{2} \d{2}|\d(?: \d){3,7}|\d{4,8})"
    r"(?![A-Za-z0-9_]|[.,:/-]\d|[ -]\d)"
)
_OTP_WORDS = re.compile(
    r"\b(code|codes|otp|2fa|two[\s-]{0,2}factor|verification|verify|authenticator|auth|sms|pin|one[\s-]{0,2}time|"
    r"totp|mfa|g2fa|token|c[oó]digo|verificaci[oó]n|verifica[cç][aã]o|autenticaci[oó]n|best[aä]tigungscode|"
    r"sicherheitscode|код|kod|kodu|mã)\b|인증\s?(?:번호|코드)|验证码|驗證碼|認証コード|確認コード",
    re.I,
)
_NOT_OTP_CONTEXT = re.compile(
    r"\b(error|err|order|uid|id|account|acct|phone|tel|amount|balance|price|total|usdt|btc|eth|krw|usd|fee|block|"
    r"height|ticket)\b",
    re.I,
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
_BEFORE_YEAR = re.compile(rf"\b(?:in|since|from|until|till|by|before|after|of|year|born|{_MONTHS})$", re.I)
_AFTER_YEAR = re.compile(rf"^(?:{_MONTHS})\b", re.I)
_CARD = re.compile(r"(?<![\w.,-])\d(?:[ .-]?\d){12,18}(?![\w]|[.,-]\d)")
_GLUED_CODE = re.compile(r"\b(?:otp|totp|2fa|mfa|g2fa|code|pin)[:-]?(?P<code>\d{4,8})(?!\w)", re.I)  # "otp482913"
_COPULA = re.compile(r"is|was|:|=|.+:")  # the word before a code that a label further back points through
_CVV = re.compile(
    r"\b(?:cvv2?|cvc2?|csc|security\s{1,3}code)\b"
    r"(?:\W{0,3}|(?:\s{1,3}[^\W\d]{1,12}){1,5}?(?:\s{1,3}(?:is|was)|\s{0,3}:)\W{0,2})"  # "... on the back is"
    r"(?P<secret>\d{3,4})(?!\d)",
    re.I,
)
_CARD_LABEL = re.compile(r"\b(?:card|visa|mastercard|amex|credit|debit|cvv|cvc)\b", re.I)
_ID_LABEL = re.compile(
    r"\b(?:order|id|uid|txid|tx|ref|reference|ticket|block|height|phone|tel|account|acct|invoice)\b", re.I
)
_CONTEXT_CHARS = 60  # how far before or after a number its labels are looked for
_NEAR_WORDS, _FAR_WORDS = 4, 6  # how many words back a label is looked for: without and with "is" or ":"


def otp_code_spans(text: str) -> list[tuple[int, int]]:
    """4-8 digit numbers next to code/OTP/2FA/verification words (not error or order codes, not years)."""
    spans: list[tuple[int, int]] = []
    for match in _NUMBER.finditer(text):
        words = text[max(0, match.start() - _CONTEXT_CHARS) : match.start()].split()
        before = words[-_FAR_WORDS:] if words and _COPULA.fullmatch(words[-1]) else words[-_NEAR_WORDS:]
        after = text[match.end() : match.end() + _CONTEXT_CHARS].split()[:3]
        if not (_OTP_WORDS.search(" ".join(before)) or _OTP_WORDS.search(" ".join(after))):
            continue
        if _NOT_OTP_CONTEXT.search(" ".join(before[-2:])) or _AMOUNT_UNIT.match(" ".join(after)):
            continue
        if _YEAR.match(match.group()) and (
            (before and _BEFORE_YEAR.search(before[-1].rstrip(","))) or _AFTER_YEAR.match(" ".join(after))
        ):
            continue
        spans.append((match.start(), match.end()))
    for match in _GLUED_CODE.finditer(text):
        before = text[max(0, match.start() - _CONTEXT_CHARS) : match.start()].split()[-2:]
        if not _NOT_OTP_CONTEXT.search(" ".join(before)):
            spans.append(match.span("code"))
    return spans


def card_spans(text: str) -> list[tuple[int, int]]:
    """Luhn-valid 13-19 digit numbers, unless labelled as an order, account or other id; and CVVs."""
    spans: list[tuple[int, int]] = []
    for match in _CARD.finditer(text):
        if not _luhn_valid(match.group()):
            continue
        before = " ".join(text[max(0, match.start() - _CONTEXT_CHARS) : match.start()].split()[-3:])
        if _ID_LABEL.search(before) and not _CARD_LABEL.search(before):
            continue
        spans.append((match.start(), match.end()))
    spans += [(m.start("secret"), m.end("secret")) for m in _CVV.finditer(text)]
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
