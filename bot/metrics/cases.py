"""What happens to cases: escalations, how long until an agent claims and first answers, CSAT."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Histogram

WAIT_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

ESCALATIONS = Counter("support_escalations", "Cases opened for an agent, by priority.", ["priority"])
CLAIM_SECONDS = Histogram(
    "support_case_claim_seconds",
    "Time from a case being opened to its first claim by an agent, by priority.",
    ["priority"],
    buckets=WAIT_BUCKETS,
)
FIRST_RESPONSE_SECONDS = Histogram(
    "support_first_agent_response_seconds",
    "Time from a case being opened to the first message an agent wrote to the customer, by priority.",
    ["priority"],
    buckets=WAIT_BUCKETS,
)
CSAT_RATINGS = Counter(
    "support_csat_ratings", "Customer satisfaction answers (1 to 5) after a resolved case.", ["rating"]
)


def priority_label(priority: int) -> str:
    return f"P{priority}"


def escalated(priority: int) -> None:
    ESCALATIONS.labels(priority=priority_label(priority)).inc()


def claimed(priority: int, opened_at: datetime, claimed_at: datetime) -> None:
    CLAIM_SECONDS.labels(priority=priority_label(priority)).observe(max(0.0, (claimed_at - opened_at).total_seconds()))


def first_response(priority: int, opened_at: datetime, answered_at: datetime) -> None:
    seconds = max(0.0, (answered_at - opened_at).total_seconds())
    FIRST_RESPONSE_SECONDS.labels(priority=priority_label(priority)).observe(seconds)


def rated(rating: int) -> None:
    CSAT_RATINGS.labels(rating=str(rating)).inc()
