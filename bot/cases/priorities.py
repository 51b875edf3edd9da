"""Priority of a case from its intent and the signals the customer gave (the spec's table)."""

from __future__ import annotations

P1, P2, P3, P4 = 1, 2, 3, 4

PRIORITY_BY_INTENT: dict[str, int] = {
    "suspected_theft": P1,
    "account_locked": P1,
    "phishing_report": P3,
    "withdrawal_stuck": P2,
    "deposit_missing": P2,
    "login_failure": P3,
    "two_factor_issue": P3,
    "kyc_verification": P3,
    "trade_issue": P3,
    "api_issue": P3,
    "app_technical": P3,
    "account_change": P3,
    "fees_and_limits": P4,
    "listing_info": P4,
    "request_human": P3,
}

URGENT_INTENTS = frozenset(i for i, p in PRIORITY_BY_INTENT.items() if p == P1)
PRESSING_INTENTS = frozenset(i for i, p in PRIORITY_BY_INTENT.items() if p <= P2)  # never mistaken for small talk


def priority_for(intent: str, *, credentials_exposed: bool = False, theft_signs: bool = False) -> int:
    """Return 1 (most urgent) to 4.

    A phishing report where credentials or keys were entered, and a 2FA problem with
    signs of theft, are account takeovers in progress and so P1.
    """
    if intent == "phishing_report" and credentials_exposed:
        return P1
    if intent == "two_factor_issue" and theft_signs:
        return P1
    return PRIORITY_BY_INTENT.get(intent, P3)


def label(priority: int) -> str:
    """Human-readable priority, as agents see it (``P1``)."""
    return f"P{priority}"
