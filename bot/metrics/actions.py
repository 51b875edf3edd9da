"""Calls Rasa makes to the action server: how many, how they ended, how long they took."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UNKNOWN_ACTION = "unknown"
CALLS = Counter(
    "support_action_calls", "Action server calls, by action and outcome (ok, rejected, error).", ["action", "outcome"]
)
SECONDS = Histogram(
    "support_action_seconds",
    "Time the action server took to run one action.",
    ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def outcome(status: int) -> str:
    """rasa_sdk answers 200 (events), 400 (the action rejected the input), 404 (no such action) or 500."""
    return {200: "ok", 400: "rejected", 404: "not_found"}.get(status, "error")


def called(action: str | None, status: int, seconds: float) -> None:
    """Count one call; ``action`` is None unless the server has an action of that name (bounded labels)."""
    name = action or UNKNOWN_ACTION
    CALLS.labels(action=name, outcome=outcome(status)).inc()
    SECONDS.labels(action=name).observe(seconds)
