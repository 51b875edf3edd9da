"""A case's SLA and waiting time as the desk shows them.

The SLA measures the time to the first agent reply against the priority's target: once an
agent has written (or the case closed without a reply) the clock stops at "met" or
"breached"; until then the page counts down to ``sla_due_at``. "Waiting" counts from the
oldest customer message that no agent reply has followed, so it restarts when the customer
writes again and is empty while the agent had the last word.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.cases.queue import ReplyTimes
from bot.cases.store import ACTIVE_STATUSES, Case

MET, BREACHED, RUNNING = "met", "breached", "running"
OVERDUE = "overdue"  # still running, past its due time: what the page shows as "overdue 4m"
DEFAULT_SLA_MINUTES = 240


def sla_fields(case: Case, times: ReplyTimes, sla_minutes: dict[int, int]) -> dict[str, Any]:
    """``sla_due_at`` (ms, for the page's timers), ``sla_state``, ``first_reply_at`` and ``waiting_since``."""
    due = case.created_at + timedelta(minutes=sla_minutes.get(case.priority, DEFAULT_SLA_MINUTES))
    active = case.status in ACTIVE_STATUSES
    stopped = times.first_reply_at or (None if active else case.resolved_at)
    state = RUNNING if stopped is None else MET if stopped <= due else BREACHED
    return {
        "sla_due_at": due.timestamp() * 1000,
        "sla_state": state,
        "first_reply_at": _iso(times.first_reply_at),
        "waiting_since": _iso(times.waiting_since) if active else None,
    }


def sla_state_at(case: Case, times: ReplyTimes, sla_minutes: dict[int, int], now: datetime) -> str:
    """The state the queue shows at ``now``: ``running`` turns ``overdue`` past its due time."""
    fields = sla_fields(case, times, sla_minutes)
    late = fields["sla_state"] == RUNNING and fields["sla_due_at"] < now.timestamp() * 1000
    return OVERDUE if late else str(fields["sla_state"])


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
