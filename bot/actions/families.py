"""Which details each kind of case collects, and what the customer's first message tells us.

The checklists follow the spec's "details each case collects", cut to the 5-7 questions
that help an agent most per family (the domain's form comment lists them too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

THEFT, SECURITY, FUNDS, ACCESS, TECHNICAL, GENERAL = "theft", "security", "funds", "access", "technical", "general"

FAMILY_OF_INTENT: dict[str, str] = {
    "suspected_theft": THEFT,
    "account_locked": SECURITY,
    "phishing_report": SECURITY,
    "withdrawal_stuck": FUNDS,
    "deposit_missing": FUNDS,
    "login_failure": ACCESS,
    "two_factor_issue": ACCESS,
    "trade_issue": TECHNICAL,
    "api_issue": TECHNICAL,
    "app_technical": TECHNICAL,
    "kyc_verification": GENERAL,
    "account_change": GENERAL,
    "fees_and_limits": GENERAL,
    "listing_info": GENERAL,
    "request_human": GENERAL,
}
# Intents that name a problem (a request for a person names none).
PROBLEM_INTENTS = frozenset(FAMILY_OF_INTENT) - {"request_human"}
# ``/search <words>`` (or "search the help center for ..."): the words name what the customer needs.
SEARCH_INTENT = "search_help_center"

_COMMON = ("description", "account_ref")
FAMILY_SLOTS: dict[str, tuple[str, ...]] = {
    THEFT: (*_COMMON, "coin", "amount", "recent_security_change", "new_device_or_network", "links_clicked"),
    SECURITY: (*_COMMON, "started_at", "recent_security_change", "new_device_or_network", "links_clicked"),
    FUNDS: (*_COMMON, "coin", "network", "amount", "tx_time", "txid", "counterparty"),
    ACCESS: (
        *_COMMON,
        "error_text",
        "device",
        "app_or_browser_version",
        "recent_security_change",
        "new_device_or_network",
    ),
    TECHNICAL: (*_COMMON, "error_text", "where", "device", "os", "app_or_browser_version"),
    GENERAL: (*_COMMON, "started_at"),
}
DETAIL_SLOTS: tuple[str, ...] = tuple(dict.fromkeys(slot for slots in FAMILY_SLOTS.values() for slot in slots))
CASE_SLOTS = ("case_intent", "case_priority", "case_family", "case_urgent", "case_id")
# What the help center answered in this matter: whether it found an article, the best one of
# the last answer (recorded if it solved it), and every article shown (the case lists them).
HELP_SLOTS = ("help_found", "help_article", "help_articles")

# Entities that fill a detail slot (the same mappings as in the domain).
SLOT_OF_ENTITY: dict[str, str] = {
    "email": "account_ref",
    "account_id": "account_ref",
    "coin": "coin",
    "network": "network",
    "amount": "amount",
    "txid": "txid",
    "wallet_address": "counterparty",
    "error_code": "error_text",
    "device": "device",
    "os": "os",
    "app_version": "app_or_browser_version",
    "browser": "app_or_browser_version",
}

_IDENTIFIER_ENTITIES = frozenset({"account_id", "order_id", "phone", "error_code", "txid", "wallet_address"})

# The first reply for a case that is not urgent: what the spec says to explain. Login and 2FA
# problems ("help-center steps, then ticket") and the P4 questions get the help center's answer
# instead (action_answer_from_help_center).
INTRO_RESPONSE: dict[str, str] = {
    "withdrawal_stuck": "utter_withdrawal_status_info",
    "deposit_missing": "utter_deposit_confirmations",
    "phishing_report": "utter_phishing_warning",
    "kyc_verification": "utter_kyc_info",
    "account_change": "utter_account_change_info",
    "trade_issue": "utter_collect_details",
    "api_issue": "utter_collect_details",
    "app_technical": "utter_collect_details",
}

_CREDENTIALS_ENTERED = re.compile(
    r"\b(entered|typed|type|put|gave|given|submitted|shared|sent|filled|input|imported|connected|logged|signed)\b"
    r".{0,60}\b(password|credentials|login|seed|phrase|private|key|keys|2fa|otp|code|codes|wallet|details)\b"
    r"|\b(password|credentials|seed|phrase|private key|2fa|code)\b.{0,40}\b(entered|typed|gave|submitted|shared)\b",
    re.I,
)
_THEFT_SIGNS = re.compile(
    r"\b(withdr[ae]w\w*|withdrawal\w*|stolen|stole|hack\w*|drain\w*|unauthori[sz]ed|not me|wasn'?t me|"
    r"sim[\s-]?swap\w*|ported|takeover|taken over|compromised|someone (else )?(is )?(logged|logging|got|used))\b",
    re.I,
)
# The same in Korean and Chinese (no word boundaries: particles attach to the words).
_CREDENTIALS_ENTERED_KO_ZH = re.compile(
    r"(비밀번호|비번|패스워드|시드|니모닉|복구\s*문구|개인\s*키|프라이빗\s*키|otp|인증\s*(코드|번호)|로그인\s*정보|지갑)"
    r".{0,30}(입력|넣었|알려\s*(줬|주었|드렸)|보냈|공유|연결|제출|적었)"
    r"|(输入|填写|填了|输了|提交|告诉|发给|给了|导入|连接)(了)?.{0,30}(密码|助记词|私钥|验证码|谷歌验证|2fa|钱包|账号)"
    r"|(密码|助记词|私钥|验证码).{0,20}(输入|填写|填了|提交|告诉|发给|给了)",
    re.I,
)
_THEFT_SIGNS_KO_ZH = re.compile(
    r"해킹|도용|탈취|털렸|털림|도난|빠져나갔|무단|제가\s*안\s*한|내가\s*안\s*한|제가\s*한\s*게\s*아|유심\s*복제|심\s*스와|"
    r"다른\s*사람이\s*(로그인|접속|출금)|被盗|盗号|被黑|黑客|被转走|盗刷|未经授权|未授权|不是我|非本人|别人登录|被人登录|"
    r"SIM\s*卡被|补卡",
    re.I,
)


@dataclass(frozen=True)
class ProblemTurn:
    """The customer message that named the problem."""

    intent: str
    text: str
    entities: tuple[dict[str, Any], ...]

    @property
    def description(self) -> str | None:
        """The customer's own words, unless they only pressed a button (``/intent``)."""
        text = self.text.strip()
        return None if not text or text.startswith("/") else text


def latest_problem_turn(tracker: Tracker) -> ProblemTurn | None:
    """The newest user message that named a problem, or a help-center search (it may be a few turns back).

    A button pressed to answer "what is this about?" names the problem; the words it
    answers for are the unclear message just before it, so those become the description.
    A search's text is the words searched for (the channels pass them without ``/search``).
    """
    users = [e for e in tracker.events if e.get("event") == "user"]
    for index in range(len(users) - 1, -1, -1):
        intent = _intent_of(users[index])
        if intent not in PROBLEM_INTENTS and intent != SEARCH_INTENT:
            continue
        said = users[index]
        if (said.get("text") or "").startswith("/") and index and _intent_of(users[index - 1]) == "nlu_fallback":
            said = users[index - 1]
        entities = (said.get("parse_data") or {}).get("entities") or ()
        return ProblemTurn(intent=intent, text=said.get("text") or "", entities=tuple(entities))
    return None


def _intent_of(user_event: dict[str, Any]) -> str | None:
    return ((user_event.get("parse_data") or {}).get("intent") or {}).get("name")


def without_shadowed_amounts(entities: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Drop ``amount`` entities that are really an account id, order id, phone or code.

    The statistical extractor may tag "102938475" in "my uid is 102938475" as an amount
    while the regex extractor knows it is an account id; the id wins.
    """
    identifiers = [e for e in entities if e.get("entity") in _IDENTIFIER_ENTITIES]

    def shadowed(amount: dict[str, Any]) -> bool:
        return any(
            str(other.get("value")) == str(amount.get("value"))
            or (other.get("start", -1) < amount.get("end", -1) and amount.get("start", -1) < other.get("end", -1))
            for other in identifiers
        )

    return [e for e in entities if e.get("entity") != "amount" or not shadowed(e)]


def value_before_latest_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the customer's last message (to undo an unchecked entity fill)."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_latest_user = True
        elif seen_latest_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def credentials_exposed(text: str) -> bool:
    """True when a phishing victim says they typed credentials or keys into the fake site."""
    return bool(_CREDENTIALS_ENTERED.search(text) or _CREDENTIALS_ENTERED_KO_ZH.search(text))


def theft_signs(text: str) -> bool:
    """True when a 2FA problem comes with signs that someone else is in the account."""
    return bool(_THEFT_SIGNS.search(text) or _THEFT_SIGNS_KO_ZH.search(text))
