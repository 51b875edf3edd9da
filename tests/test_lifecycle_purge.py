"""The purge: finished rows older than their retention go, in batches; recent, open and pending ones stay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Engine

from bot.cases.audit import AuditLog, audit_log
from bot.cases.database import make_engine
from bot.cases.deliveries import DeliveryLedger, deliveries
from bot.cases.group_updates import GroupUpdates, agent_group_updates
from bot.cases.instances import Instance
from bot.cases.leases import LeaderLease
from bot.cases.schema import attachments, case_messages, cases, outbox
from bot.cases.store import CaseStore, TranscriptLine
from bot.lifecycle.job import run_purges
from bot.lifecycle.purge import Purge
from bot.lifecycle.settings import LifecycleSettings
from connectors.rest.mailbox import RestMailbox, rest_mailbox
from connectors.telegram.storage import Inbox, Outbox, telegram_replies, telegram_updates
from connectors.twitter.inbox import XInbox, x_inbox
from connectors.twitter.sender import DmEvent
from connectors.twitter.state import DM, XState, x_processed

NOW = datetime.now(timezone.utc)
SETTINGS = LifecycleSettings(attachment_days=90, purge_batch_rows=2)  # small batches: several per table


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def age(engine: Engine, table: Table, where: object, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(table).where(where).values(**values))  # type: ignore[arg-type]


def count(engine: Engine, table: Table, where: object = True) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())  # type: ignore[arg-type]


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def closed_case(store: CaseStore, files: Path, name: str, closed_days_ago: int | None) -> str:
    """A case with a transcript and an attachment file; closed that long ago, or still open when None."""
    case = store.open_case(
        intent="other", priority=3, channel="rest", sender_id=f"rest:{name}", summary=name, details={},
        transcript=[TranscriptLine("customer", f"hello from {name}")],
    )  # fmt: skip
    path = files / f"{name}.jpg"
    path.write_bytes(b"jpeg")
    store.add_attachment(case.id, kind="photo", name="p.jpg", mime_type="image/jpeg", size=4, stored_path=str(path))
    if closed_days_ago is not None:
        store.claim(case.id, "alice")
        store.resolve(case.id, "alice")
        age(store.engine, cases, cases.c.id == case.id, resolved_at=days_ago(closed_days_ago))
    else:
        age(store.engine, cases, cases.c.id == case.id, created_at=days_ago(800))
    return case.id


def test_old_finished_rows_go_and_recent_open_or_pending_ones_stay(engine, tmp_path):
    store = CaseStore(engine)
    expired = [closed_case(store, tmp_path, f"expired{i}", 400) for i in range(3)]
    files_only = closed_case(store, tmp_path, "filesonly", 100)
    recent = closed_case(store, tmp_path, "recent", 10)
    still_open = closed_case(store, tmp_path, "open", None)
    ledger = DeliveryLedger(engine)
    ledger.plan(["desk"])
    while due := ledger.claim_due("desk", limit=100):  # one row per case at a time, in order
        for delivery in due:
            if delivery.case_id != still_open:
                ledger.delivered([delivery])  # the open case's rows stay undelivered (claimed, then leased away)
    age(engine, outbox, True, created_at=days_ago(40))

    instance = Instance(engine, "test")
    inbox, replies = Inbox(engine, instance), Outbox(engine, instance)
    for update_id in (1, 2, 3, 4):
        inbox.store(update_id, "42", {"update_id": update_id})
    for update_id in (1, 2, 3):
        inbox.finish(update_id)
    age(
        engine,
        telegram_updates,
        telegram_updates.c.update_id.in_([1, 2, 4]),
        processed_at=days_ago(40),
        created_at=days_ago(40),
    )
    sent = replies.add(42, None, [{"text": "a"}, {"text": "b"}, {"text": "c"}])
    for reply_id in sent[:2]:
        replies.mark([reply_id], "sent", message_id=reply_id)
    age(engine, telegram_replies, True, created_at=days_ago(40))

    XInbox(engine).store([DmEvent(id=str(i), text="hi", sender_id="77", conversation_id="1-77") for i in (1, 2)])
    age(engine, x_inbox, x_inbox.c.event_id == "1", status="done", finished_at=days_ago(40))
    XState(engine).finish((DM, "1"), (DM, "2"))
    age(engine, x_processed, x_processed.c.event_id == "1", processed_at=time.time() - 40 * 86400)

    mailbox = RestMailbox(engine)
    mailbox.post("rest:a", "old, delivered")
    mailbox.collect("rest:a")
    mailbox.post("rest:a", "old, never collected")
    age(engine, rest_mailbox, True, created_at=days_ago(40))
    age(engine, rest_mailbox, rest_mailbox.c.delivered_at.is_not(None), delivered_at=days_ago(40))

    groups = GroupUpdates(engine)
    for update_id in (5, 6):
        groups.begin(update_id)
        groups.finish(update_id)
    age(engine, agent_group_updates, agent_group_updates.c.update_id == 5, finished_at=days_ago(40))

    audit = AuditLog(engine)
    audit.record(actor="alice", via="desk", action="claim")
    audit.record(actor="bob", via="desk", action="claim")
    age(engine, audit_log, audit_log.c.actor == "alice", at=days_ago(800))

    counts = Purge(engine, SETTINGS).run(NOW)

    assert count(engine, cases, cases.c.id.in_(expired)) == 0 and counts["cases"] == 3
    assert {p.name for p in tmp_path.glob("*.jpg")} == {"recent.jpg", "open.jpg"}
    assert count(engine, case_messages, case_messages.c.case_id == files_only) == 1  # the transcript outlives the file
    assert count(engine, attachments, attachments.c.case_id == files_only) == 0
    assert counts["attachments"] == 4  # the expired cases' too: files go first
    for kept in (recent, still_open):
        assert count(engine, case_messages, case_messages.c.case_id == kept) == 1
        assert count(engine, attachments, attachments.c.case_id == kept) == 1
    assert count(engine, outbox) == count(engine, outbox, outbox.c.case_id == still_open) > 0
    assert count(engine, deliveries) == count(engine, deliveries, deliveries.c.case_id == still_open)
    assert {r.update_id for r in inbox_rows(engine)} == {3, 4}  # recent done, and old pending
    assert (
        count(engine, telegram_replies) == 1
        and count(engine, telegram_replies, telegram_replies.c.status == "pending") == 1
    )
    assert count(engine, x_inbox) == 1 and count(engine, x_inbox, x_inbox.c.status == "pending") == 1
    assert count(engine, x_processed) == 1 and count(engine, x_processed, x_processed.c.event_id == "2") == 1
    assert count(engine, rest_mailbox) == 1 and count(engine, rest_mailbox, rest_mailbox.c.delivered_at.is_(None)) == 1
    assert count(engine, agent_group_updates) == 1
    assert [e.actor for e in audit.entries()] == ["bob"]
    assert Purge(engine, SETTINGS).run(NOW) == dict.fromkeys(counts, 0)


def inbox_rows(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return list(conn.execute(select(telegram_updates.c.update_id)))


def test_a_retention_of_zero_keeps_that_family(engine, tmp_path):
    store = CaseStore(engine)
    case_id = closed_case(store, tmp_path, "ancient", 5000)
    counts = Purge(engine, LifecycleSettings(transcript_days=0, attachment_days=0)).run(NOW)
    assert "cases" not in counts and "attachments" not in counts
    assert store.find(case_id) is not None and (tmp_path / "ancient.jpg").exists()


class CountingPurge(Purge):
    def __init__(self, engine: Engine, settings: LifecycleSettings) -> None:
        super().__init__(engine, settings)
        self.runs = 0

    def run(self, now: datetime | None = None) -> dict[str, int]:
        self.runs += 1
        return super().run(now)


class CountingLease(LeaderLease):
    attempts = 0

    def acquire(self) -> bool:
        self.attempts += 1
        return super().acquire()


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), seconds)


async def test_only_the_desk_holding_the_lease_purges(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    closed_case(CaseStore(engine), tmp_path, "expired", 400)
    first, second = CountingPurge(engine, SETTINGS), CountingPurge(engine, SETTINGS)
    lease_a, lease_b = CountingLease(engine, "data_purge", 3600), CountingLease(engine, "data_purge", 3600)
    jobs = [asyncio.create_task(run_purges(first, lease_a, interval_hours=24))]
    try:
        await until(lambda: count(engine, cases) == 0)
        jobs.append(asyncio.create_task(run_purges(second, lease_b, interval_hours=24)))
        await until(lambda: lease_b.attempts > 0)
        assert (first.runs, second.runs) == (1, 0)
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        engine.dispose()
