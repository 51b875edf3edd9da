"""The connector's tables on SQLite and PostgreSQL: inbox dedup and claims, outbox, lease, callbacks."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from bot.cases.database import make_engine
from bot.cases.leases import LeaderLease, leader_leases
from connectors.telegram.storage import (
    CLAIMED,
    TAKEN,
    WAIT,
    CallbackPayloads,
    Inbox,
    Outbox,
    metadata,
)


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, metadata)
    yield engine
    engine.dispose()


def test_inbox_stores_an_update_once_and_hands_it_out_once(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine)
    assert inbox.store(1, "42", {"update_id": 1, "message": {"text": "hi"}})
    assert not inbox.store(1, "42", {"update_id": 1, "message": {"text": "hi"}})
    assert [i.update_id for i in inbox.pending()] == [1]
    assert inbox.claim(1) == CLAIMED
    assert inbox.claim(1) == TAKEN  # another worker holds it
    assert inbox.pending() == []  # nor is it offered for resuming while held
    inbox.finish(1)
    assert inbox.claim(1) == TAKEN and inbox.pending() == [] and inbox.status(1) == "done"


def test_an_update_waits_for_the_earlier_updates_of_its_chat(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine)
    for update_id, chat in [(10, "42"), (11, "42"), (12, "7")]:
        inbox.store(update_id, chat, {"update_id": update_id})
    assert inbox.claim(11) == WAIT  # 10 of the same chat is not finished
    assert inbox.claim(12) == CLAIMED  # another chat does not wait
    assert inbox.claim(10) == CLAIMED
    assert inbox.claim(11) == WAIT
    inbox.finish(10, "failed")
    assert inbox.claim(11) == CLAIMED


def test_inbox_drops_the_raw_text_once_processed(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine)
    inbox.store(2, "42", {"update_id": 2, "message": {"text": "my password is hunter2"}})
    inbox.claim(2)
    inbox.finish(2)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select payload from telegram_inbox").scalar() is None


def test_an_expired_inbox_claim_can_be_taken_again(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine)
    inbox.store(3, "42", {"update_id": 3})
    assert inbox.claim(3, lease_seconds=-1) == CLAIMED  # its worker died
    assert inbox.claim(3) == CLAIMED


def test_outbox_claims_each_row_once_and_keeps_order(engine) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(engine)
    ids = outbox.add(42, 7, [{"kind": "text", "text": "a"}, {"kind": "text", "text": "b"}])
    outbox.add(43, 8, [{"kind": "text", "text": "c"}])
    assert [i.body["text"] for i in outbox.due(42)] == ["a", "b"]
    assert outbox.claim(ids[0]) and not outbox.claim(ids[0])
    outbox.mark(ids[0], "sent", message_id=99)
    assert [i.id for i in outbox.due(42)] == [ids[1]]
    assert outbox.has_replies(7) and not outbox.has_replies(9)
    assert outbox.rows(42)[0]["message_id"] == 99


def test_lease_has_one_holder_until_it_expires_or_is_released(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = LeaderLease(engine, "poller", 30, holder="a"), LeaderLease(engine, "poller", 30, holder="b")
    assert first.acquire() and first.acquire()  # renewing
    assert not second.acquire()
    with engine.begin() as conn:
        conn.execute(update(leader_leases).values(expires_at=time.time() - 1))  # the holder died
    assert second.acquire() and not first.acquire()
    second.release()
    assert first.acquire()


def test_long_button_payloads_get_a_short_key(engine) -> None:  # type: ignore[no-untyped-def]
    callbacks = CallbackPayloads(engine)
    assert callbacks.data_for("/affirm") == "/affirm"
    long = '/inform{"issue_type": "withdrawal_stuck", "coin": "USDT", "network": "TRC20"}'
    data = callbacks.data_for(long)
    assert data.startswith("cb:") and len(data.encode()) <= 64
    assert callbacks.data_for(long) == data
    assert callbacks.payload_for(data) == long
    assert callbacks.payload_for("cb:unknown") is None
