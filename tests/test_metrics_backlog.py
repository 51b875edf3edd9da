"""The backlog read from SQL for /metrics and /readyz, on SQLite and PostgreSQL, from rows as the stores write them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from bot.cases.database import make_engine
from bot.cases.instances import database_epoch
from bot.cases.leases import LeaderLease
from bot.cases.schema import cases, outbox
from bot.cases.store import CaseStore, TranscriptLine, utcnow
from bot.metrics.backlog import TELEGRAM_REPLIES, read_backlog
from connectors.telegram.storage import DONE, PENDING, telegram_replies, telegram_updates
from connectors.twitter.inbox import x_inbox

SLA = {1: 5, 2: 30, 3: 240, 4: 1440}


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    CaseStore(engine)  # brings the schema to the newest revision
    yield engine
    engine.dispose()


def _ago(seconds: float):
    return utcnow() - timedelta(seconds=seconds)


def test_an_empty_database_reads_as_zeros(engine):
    backlog = read_backlog(engine, ["telegram_group"], chat_stuck_seconds=300, sla_minutes=SLA)
    assert [(o.name, o.depth, o.oldest_age_seconds, o.overdue_seconds) for o in backlog.outboxes] == [
        ("telegram_group", 0, 0.0, 0.0),
        (TELEGRAM_REPLIES, 0, 0.0, 0.0),
    ]
    assert [(i.name, i.depth, i.stuck_chats) for i in backlog.inboxes] == [("telegram", 0, 0), ("twitter", 0, 0)]
    assert backlog.leases == () and backlog.case_queues == ()


def test_case_events_nobody_planned_yet_are_deep_old_and_overdue(engine):
    case = CaseStore(engine).open_case(
        intent="suspected_theft", priority=1, channel="rest", sender_id="rest:a", summary="s", details={}
    )
    with engine.begin() as conn:
        conn.execute(insert(outbox).values(event="customer_message", case_id=case.id, payload={}, created_at=_ago(90)))
    (group, _replies) = read_backlog(engine, ["telegram_group"], chat_stuck_seconds=300, sla_minutes=SLA).outboxes
    assert group.depth == 2
    assert 89 < group.oldest_age_seconds < 120 and 89 < group.overdue_seconds < 120


def test_telegram_replies_backing_off_or_waiting_behind_one_are_not_overdue(engine):
    with engine.begin() as conn:
        epoch = conn.execute(select(database_epoch())).scalar()
        rows = [
            # chat 1: the first reply waits out a retry back-off, the second waits behind it
            {"chat_id": 1, "not_before": epoch + 100, "created_at": _ago(600)},
            {"chat_id": 1, "not_before": None, "created_at": _ago(590)},
            # chat 2: sendable for two minutes and nobody sent it
            {"chat_id": 2, "not_before": None, "created_at": _ago(120)},
            # chat 3: its retry came due 30 s ago
            {"chat_id": 3, "not_before": epoch - 30, "created_at": _ago(400)},
        ]
        conn.execute(
            insert(telegram_replies),
            [{**row, "origin": "bot", "body": {"kind": "text", "text": "hi"}, "status": PENDING} for row in rows],
        )
    replies = read_backlog(engine, [], chat_stuck_seconds=300, sla_minutes=SLA).outboxes[-1]
    assert replies.name == TELEGRAM_REPLIES and replies.depth == 4
    assert 599 < replies.oldest_age_seconds < 660
    assert 119 < replies.overdue_seconds < 180, "chat 2's reply; chat 1's are not sendable"


def test_inbox_backlog_and_stuck_chats(engine):
    with engine.begin() as conn:
        conn.execute(
            insert(telegram_updates),
            [
                {"update_id": 1, "chat_key": "c1", "status": PENDING, "attempts": 1, "created_at": _ago(900)},
                {"update_id": 2, "chat_key": "c1", "status": PENDING, "attempts": 0, "created_at": _ago(800)},
                {"update_id": 3, "chat_key": "c2", "status": PENDING, "attempts": 0, "created_at": _ago(5)},
                {"update_id": 4, "chat_key": "c3", "status": DONE, "attempts": 1, "created_at": _ago(2000)},
            ],
        )
        conn.execute(
            insert(x_inbox).values(
                kind="dm", event_id="1", user_id="u1", sort_key="1", status="pending", attempts=0, failures=0,
                next_attempt_at=time.time(), created_at=_ago(30),
            )
        )  # fmt: skip
    telegram, x = read_backlog(engine, [], chat_stuck_seconds=300, sla_minutes=SLA).inboxes
    assert (telegram.depth, telegram.stuck_chats) == (3, 1) and 899 < telegram.oldest_age_seconds < 960
    assert (x.name, x.depth, x.stuck_chats) == ("twitter", 1, 0)


def test_leases_held_released_and_cases_waiting_by_priority(engine):
    held = LeaderLease(engine, "telegram_poller", seconds=50)
    assert held.acquire()
    released = LeaderLease(engine, "x_poller", seconds=50)
    assert released.acquire()
    released.release()
    store = CaseStore(engine)
    for priority in (1, 2, 2):
        store.open_case(intent="i", priority=priority, channel="rest", sender_id=f"rest:{priority}", summary="s",
                        details={})  # fmt: skip
    claimed = store.open_case(intent="i", priority=1, channel="rest", sender_id="rest:c", summary="s", details={})
    assert store.claim(claimed.id, "ann")
    backlog = read_backlog(
        engine, [], chat_stuck_seconds=300, expected_leases=["telegram_poller", "group_poller"], sla_minutes=SLA
    )
    leases = {lease.name: lease for lease in backlog.leases}
    assert sorted(leases) == ["group_poller", "telegram_poller", "x_poller"]
    assert not leases["group_poller"].held and leases["group_poller"].seconds_left == 0  # nobody ever took it
    assert leases["telegram_poller"].held and 45 < leases["telegram_poller"].seconds_left <= 50
    assert not leases["x_poller"].held and leases["x_poller"].seconds_left == 0
    assert [(q.priority, q.waiting) for q in backlog.case_queues] == [(1, 1), (2, 2)]


def test_sla_states_are_the_queues_running_overdue_met_and_breached(engine):
    """/metrics counts by the desk's own rule and reply times: what an agent sees is what an alert sees."""
    store = CaseStore(engine)

    def opened(priority: int, minutes_ago: float, replied_after: float | None = None) -> str:
        case = store.open_case(intent="i", priority=priority, channel="rest", sender_id="rest:s", summary="s",
                               details={})  # fmt: skip
        start = _ago(minutes_ago * 60)
        with engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.id == case.id).values(created_at=start))
        if replied_after is not None:
            reply = TranscriptLine("agent", "on it", "ann", start + timedelta(minutes=replied_after))
            store.record_message(case.id, reply)
        return case.id

    opened(1, 1)  # running: 4 minutes left
    opened(1, 10)  # overdue: no reply, past P1's 5 minutes
    opened(1, 10, replied_after=3)  # met
    opened(2, 60, replied_after=45)  # breached: 45 against P2's 30
    store.resolve(opened(1, 30), "ann")  # closed: no longer counted
    counts = {(c.priority, c.state): c.cases for c in read_backlog(engine, [], 300, sla_minutes=SLA).sla}
    assert counts == {(1, "running"): 1, (1, "overdue"): 1, (1, "met"): 1, (2, "breached"): 1}
