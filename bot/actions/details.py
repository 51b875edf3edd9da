"""Checks and normal forms of the details a customer gives, shared by the form and corrections.

Each check returns ``Checked(value, problem)``: the value to store (``"unknown"`` when the
customer does not know) or ``None`` with the domain response that explains what to send.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

UNKNOWN = "unknown"
MAX_TEXT = 500

_SKIP = re.compile(
    r"^(i\s+)?(do\s*n[o']?t|dont|don't|do not)\s+(know|remember|have|recall)|^(idk|dunno|no idea|not sure|unsure|"
    r"skip|pass|unknown|n/?a|no clue|can'?t remember|cannot remember|can'?t recall|i have no idea|i'?m not sure)\b",
    re.I,
)
# "I don't know" in Korean and Chinese ("모르겠어요", "기억이 안 나요", "不知道", "忘了"); not "없어요" / "没有":
# to "did you click a link?" they mean "no".
_SKIP_KO_ZH = re.compile(
    r"^(잘\s*|아직\s*|정확히\s*)?(모르겠|모름|몰라|모릅니다|모르|기억(이|이\s*잘)?\s*(안|나지|없)|건너뛰|패스)"
    r"|^(我\s*)?(也\s*|还\s*)?(不知道|不清楚|不太清楚|不记得|记不清|忘了|忘记了|跳过)"
)
_FILLER = frozenset(
    "the it that this one a an my any of to it's its sorry really exactly anymore yet now either honestly "
    "txid tx hash id address amount network coin version error device time link page screen os this question "
    "know have remember please for".split()
)
_WORD = re.compile(r"[a-z0-9']+")

_HEX64 = re.compile(r"(?<![0-9a-fA-Fx])(0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_URL = re.compile(r"https?://\S+", re.I)
_EXPLORER_PATH = re.compile(r"/(tx|txs|transaction|transactions)/", re.I)

_AMOUNT = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)([.,]\d+)?\s*([km])?(?![a-z0-9])", re.I)
_MULTIPLIER = {"": Decimal(1), "k": Decimal(1000), "m": Decimal(1000000)}

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_ACCOUNT_ID = re.compile(r"(?<!\d)\d{6,12}(?!\d)")

COIN_NAMES: dict[str, str] = {
    "bitcoin": "BTC", "bitcoins": "BTC", "xbt": "BTC", "ether": "ETH", "ethereum": "ETH", "tether": "USDT",
    "usd coin": "USDC", "ripple": "XRP", "solana": "SOL", "dogecoin": "DOGE", "doge": "DOGE", "cardano": "ADA",
    "tron": "TRX", "binance coin": "BNB", "litecoin": "LTC", "polkadot": "DOT", "polygon": "POL", "matic": "POL",
    "avalanche": "AVAX", "shiba inu": "SHIB", "shiba": "SHIB", "chainlink": "LINK", "stellar": "XLM",
    "cosmos": "ATOM", "toncoin": "TON", "bitcoin cash": "BCH", "ethereum classic": "ETC", "korean won": "KRW",
    "won": "KRW", "dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR",
}  # fmt: skip
# Korean and Chinese coin names, found inside words (particles attach: "테더요", "比特币的").
CJK_COIN_NAMES: dict[str, str] = {
    "비트코인캐시": "BCH", "비트코인": "BTC", "이더리움클래식": "ETC", "이더리움": "ETH", "테더": "USDT", "리플": "XRP",
    "솔라나": "SOL", "도지코인": "DOGE", "도지": "DOGE", "에이다": "ADA", "트론": "TRX", "라이트코인": "LTC",
    "폴카닷": "DOT", "스텔라루멘": "XLM", "체인링크": "LINK", "아발란체": "AVAX", "시바이누": "SHIB", "톤코인": "TON",
    "원화": "KRW", "比特币现金": "BCH", "比特币": "BTC", "以太坊经典": "ETC", "以太坊": "ETH", "以太币": "ETH",
    "泰达币": "USDT", "泰达": "USDT", "瑞波币": "XRP", "瑞波": "XRP", "索拉纳": "SOL", "狗狗币": "DOGE",
    "艾达币": "ADA", "波场": "TRX", "莱特币": "LTC", "波卡": "DOT", "恒星币": "XLM", "柴犬币": "SHIB", "人民币": "CNY",
    "韩元": "KRW",
}  # fmt: skip
COIN_SYMBOLS = frozenset(
    "BTC ETH USDT USDC XRP SOL DOGE ADA TRX BNB LTC DOT MATIC POL AVAX SHIB LINK XLM ATOM TON BCH ETC ARB OP APT "
    "SUI NEAR PEPE WIF LUNA DAI FDUSD KRW USD EUR".split()
)
_SYMBOL_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,9}$")

NETWORK_NAMES: dict[str, str] = {
    "erc20": "ERC20", "erc-20": "ERC20", "erc 20": "ERC20", "ethereum": "ERC20", "eth": "ERC20",
    "trc20": "TRC20", "trc-20": "TRC20", "trc 20": "TRC20", "tron": "TRC20",
    "bep20": "BEP20", "bep-20": "BEP20", "bep 20": "BEP20", "bsc": "BEP20", "bnb smart chain": "BEP20",
    "bep2": "BEP2", "bep-2": "BEP2", "solana": "Solana", "sol": "Solana", "arbitrum": "Arbitrum",
    "arbitrum one": "Arbitrum", "optimism": "Optimism", "polygon": "Polygon", "matic": "Polygon",
    "lightning": "Lightning", "lightning network": "Lightning", "bitcoin": "Bitcoin", "btc": "Bitcoin",
    "segwit": "Bitcoin", "native segwit": "Bitcoin", "base": "Base", "ton": "TON", "omni": "Omni",
    "avalanche c-chain": "AVAX C-Chain", "avalanche": "AVAX C-Chain",
}  # fmt: skip


@dataclass(frozen=True)
class Checked:
    """A detail after checking: ``value`` to store, or ``None`` and the ``problem`` response."""

    value: str | None
    problem: str | None = None


def is_skip(text: str) -> bool:
    """True for "I don't know", "skip", "not sure", "no idea" and the like (nothing else said)."""
    cleaned = text.strip().lower()
    match = _SKIP.match(cleaned) or _SKIP_KO_ZH.match(cleaned)
    if match is None:
        return False
    rest = _WORD.findall(cleaned[match.end() :])
    return all(word in _FILLER for word in rest)


def check_text(value: str) -> Checked:
    """Free-text details: kept in the customer's words."""
    text = value.strip()
    if not text:
        return Checked(None)
    return Checked(UNKNOWN if is_skip(text) else text[:MAX_TEXT])


def check_txid(value: str) -> Checked:
    """A 64-hex hash, ``0x`` + 64 hex, or a block explorer link."""
    text = value.strip()
    for url in _URL.findall(text):
        url = url.rstrip(".,;)")
        if _EXPLORER_PATH.search(url) or _HEX64.search(url):
            return Checked(url)
    match = _HEX64.search(text)
    if match:
        return Checked(match.group(0))
    if is_skip(text):
        return Checked(UNKNOWN)
    return Checked(None, "utter_invalid_txid")


def check_coin(value: str) -> Checked:
    """The coin's symbol: ``bitcoin`` -> ``BTC``; an unlisted ticker is kept in capitals."""
    text = value.strip()
    lowered = text.lower()
    for name in sorted(COIN_NAMES, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", lowered):
            return Checked(COIN_NAMES[name])
    for name in sorted(CJK_COIN_NAMES, key=len, reverse=True):
        if name in text:
            return Checked(CJK_COIN_NAMES[name])
    for token in re.findall(r"[A-Za-z0-9]+", text):
        if token.upper() in COIN_SYMBOLS:
            return Checked(token.upper())
    if is_skip(text):
        return Checked(UNKNOWN)
    if _SYMBOL_TOKEN.match(text):
        return Checked(text.upper())
    return Checked(None, "utter_invalid_coin")


def check_network(value: str) -> Checked:
    """The network's usual name (``trc-20`` -> ``TRC20``); anything else in the customer's words."""
    text = value.strip()
    lowered = text.lower()
    for name in sorted(NETWORK_NAMES, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lowered):
            return Checked(NETWORK_NAMES[name])
    return check_text(text)


def check_amount(value: str) -> Checked:
    """A positive number: ``0.5``, ``1,200``, ``1.2k`` (stored without separators: ``1200``)."""
    text = value.strip()
    match = _AMOUNT.search(text)
    if match:
        whole, fraction, suffix = match.group(1), match.group(2) or "", (match.group(3) or "").lower()
        try:
            number = Decimal(whole.replace(",", "") + fraction.replace(",", ".")) * _MULTIPLIER[suffix]
        except InvalidOperation:
            number = Decimal(0)
        if number > 0:
            return Checked(format(number.normalize(), "f"))
    if is_skip(text):
        return Checked(UNKNOWN)
    return Checked(None, "utter_invalid_amount")


def check_account_ref(value: str) -> Checked:
    """The registered email (checked for form) or the numeric account id."""
    text = value.strip()
    candidates = [token.strip(".,;:()<>\"'") for token in text.split() if "@" in token]
    if candidates:
        email = candidates[0]
        return Checked(email) if _EMAIL.match(email) else Checked(None, "utter_invalid_email")
    match = _ACCOUNT_ID.search(text.replace(" ", ""))
    if match:
        return Checked(match.group(0))
    if is_skip(text):
        return Checked(UNKNOWN)
    return Checked(None, "utter_invalid_account_ref")


CHECKS: dict[str, Callable[[str], Checked]] = {
    "txid": check_txid,
    "coin": check_coin,
    "network": check_network,
    "amount": check_amount,
    "account_ref": check_account_ref,
}


def check_detail(slot: str, value: object) -> Checked:
    """Check ``value`` for ``slot`` (free text unless the slot has its own check)."""
    if value is None:
        return Checked(None)
    return CHECKS.get(slot, check_text)(str(value))
