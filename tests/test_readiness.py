"""Readiness checks on a real database: leases held and sane, outboxes moving, the model loaded."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from bot.cases.database import make_engine
from bot.cases.leases import LeaderLease, leader_leases
from bot.cases.store import CaseStore
from bot.metrics.backlog import QueueState
from bot.runtime.readiness import assess


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    CaseStore(engine)
    yield engine
    engine.dispose()


def _no_outboxes(_conn, _now):
    return []


async def test_a_lease_nobody_holds_or_held_too_far_ahead_is_not_sane(engine):
    lease = LeaderLease(engine, "telegram_poller", seconds=50)
    unheld = await assess(engine, leases=[lease], outboxes=_no_outboxes, stuck_seconds=300)
    assert unheld.status == 503 and unheld.checks == {"database": True, "leases": False, "outbox": True}
    assert unheld.problems == ("no process holds the lease telegram_poller",)

    other = LeaderLease(engine, "telegram_poller", seconds=50)  # another process took it
    assert other.acquire()
    held = await assess(engine, leases=[lease], outboxes=_no_outboxes, stuck_seconds=300)
    assert held.ready and held.status == 200 and held.body()["problems"] == []

    with engine.begin() as conn:  # a holder whose clock runs an hour ahead
        conn.execute(update(leader_leases).values(expires_at=time.time() + 3600))
    skewed = await assess(engine, leases=[lease], outboxes=_no_outboxes, stuck_seconds=300)
    assert not skewed.ready and "its holder's clock is ahead" in skewed.problems[0]


async def test_a_stuck_outbox_and_a_missing_model_are_reported(engine):
    def stuck(_conn, _now):
        return [QueueState("telegram_replies", 3, 700.0, overdue_seconds=400.0), QueueState("webhook", 1, 9.0)]

    result = await assess(engine, leases=[], outboxes=stuck, stuck_seconds=300, model_loaded=False)
    assert result.checks == {"model": False, "database": True, "leases": True, "outbox": False}
    assert result.problems == (
        "the model is not loaded yet",
        "outbox telegram_replies: a sendable row has waited 400s",
    )
