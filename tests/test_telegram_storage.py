"""The connector's tables on SQLite and PostgreSQL: inbox dedup and claims, outbox, lease, callbacks, instances."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from bot.cases.database import make_engine
from bot.cases.instances import Instance
from bot.cases.leases import LeaderLease, leader_leases
from bot.migrations.runner import ensure_schema
from connectors.telegram.storage import (
    CLAIMED,
    TAKEN,
    WAIT,
    ButtonPresses,
    CallbackPayloads,
    Inbox,
    Outbox,
)


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def live(engine, name: str = "here") -> Instance:  # type: ignore[no-untyped-def]
    instance = Instance(engine, name)
    instance.register()
    return instance


def test_inbox_stores_an_update_once_and_hands_it_out_once(engine) -> None:  # type: ignore[no-untyped-def]
    inbox, other = Inbox(engine, live(engine)), Inbox(engine, live(engine, "there"))
    assert inbox.store(1, "42", {"update_id": 1, "message": {"text": "hi"}})
    assert not inbox.store(1, "42", {"update_id": 1, "message": {"text": "hi"}})
    assert [i.update_id for i in inbox.pending()] == [1]
    assert inbox.claim(1).outcome == CLAIMED
    assert inbox.claim(1).outcome == TAKEN == other.claim(1).outcome  # a live worker holds it
    assert inbox.pending() == [] == other.pending()  # nor is it offered for resuming while held
    inbox.finish(1)
    assert other.claim(1).outcome == TAKEN and inbox.pending() == [] and inbox.status(1) == "done"


def test_an_update_waits_for_the_earlier_updates_of_its_chat(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine, live(engine))
    for update_id, chat in [(10, "42"), (11, "42"), (12, "7")]:
        inbox.store(update_id, chat, {"update_id": update_id})
    assert inbox.claim(11).outcome == WAIT  # 10 of the same chat is not finished
    assert inbox.claim(12).outcome == CLAIMED  # another chat does not wait
    assert inbox.claim(10).outcome == CLAIMED
    assert inbox.claim(11).outcome == WAIT
    inbox.finish(10, "failed", "kept with its error")
    assert inbox.claim(11).outcome == CLAIMED
    assert inbox.row(10)["error"] == "kept with its error"  # type: ignore[index]


def test_inbox_drops_the_raw_text_once_processed(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine, live(engine))
    inbox.store(2, "42", {"update_id": 2, "message": {"text": "my password is hunter2"}})
    inbox.claim(2)
    inbox.finish(2)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select payload from telegram_updates").scalar() is None


def test_claims_follow_the_holders_heartbeat_by_the_database_clock(engine) -> None:  # type: ignore[no-untyped-def]
    """A dead instance's claim is free once its heartbeat is stale; a restarted one takes its own back at once."""
    dead, here = Instance(engine, "dead"), Instance(engine, "here", stale_seconds=1.0)
    dead.register()
    here.register()
    crashed = Inbox(engine, dead)
    crashed.store(3, "42", {"update_id": 3})
    crashed.store(4, "43", {"update_id": 4})
    assert crashed.claim(3).outcome == CLAIMED and crashed.claim(4).outcome == CLAIMED
    taker = Inbox(engine, here)
    dead.beat()  # a fresh heartbeat: a busy machine may take longer than the stale time to get here
    assert taker.claim(3).outcome == TAKEN  # its holder is alive
    deadline = time.monotonic() + 10
    while (claim := taker.claim(3)).outcome != CLAIMED:  # its heartbeat goes stale by the database's clock
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert claim.attempt == 2  # a replay: the dead instance may have run part of the turn
    reborn = Instance(engine, "dead")
    reborn.register()
    here.beat()
    assert set(here.alive()) == {"dead", "here"}
    assert Inbox(engine, reborn).release_own_claims() == 1  # update 4, at once
    assert Inbox(engine, reborn).claim(4).attempt == 2


def test_a_retried_update_waits_out_its_delay_and_holds_back_its_chat(engine) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(engine, live(engine))
    inbox.store(5, "42", {"update_id": 5})
    inbox.store(6, "42", {"update_id": 6})
    assert inbox.claim(5).outcome == CLAIMED
    inbox.retry_later(5, "database is locked", delay_seconds=0.3)
    assert inbox.claim(5).outcome == TAKEN and inbox.claim(6).outcome == WAIT
    assert [i.update_id for i in inbox.pending()] == [6]
    time.sleep(0.35)
    assert [i.update_id for i in inbox.pending()] == [5, 6]
    assert [i.update_id for i in inbox.pending(next_only=True)] == [5]  # 6 comes after it
    assert inbox.claim(5).attempt == 2 and inbox.status(5) == "pending"


def test_outbox_claims_each_row_once_and_keeps_order(engine) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(engine, live(engine))
    ids = outbox.add(42, 7, [{"kind": "text", "text": "a"}, {"kind": "text", "text": "b"}], first_seq=0)
    outbox.add(43, 8, [{"kind": "text", "text": "c"}], first_seq=0)
    assert [i.body["text"] for i in outbox.due(42)] == ["a", "b"] and sorted(outbox.due_chats()) == [42, 43]
    assert outbox.claim([ids[0]]) and not outbox.claim([ids[0]])
    assert [i.blocked for i in outbox.due(42)] == [True, False]  # held while being sent
    outbox.mark([ids[0]], "sent", message_id=99)
    assert [i.id for i in outbox.due(42)] == [ids[1]]
    assert outbox.rows(42)[0]["message_id"] == 99


def test_a_place_of_a_turn_is_recorded_once(engine) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(engine, live(engine))
    outbox.add(42, 9, [{"kind": "text", "text": "Sorry about that."}], first_seq=0, keys=["utter_sorry#0"])
    again = outbox.add(
        42, 9, [{"kind": "text", "text": "Sorry!"}, {"kind": "text", "text": "Which coin?"}], first_seq=0
    )
    assert len(again) == 1
    assert [r["body"]["text"] for r in outbox.rows(42)] == ["Sorry about that.", "Which coin?"]
    assert outbox.recorded_keys(9) == ["utter_sorry#0", ""]
    outbox.add(42, None, [{"kind": "text", "text": "agent"}], origin="agent")
    outbox.add(42, None, [{"kind": "text", "text": "agent"}], origin="agent")  # no turn: never merged
    assert len(outbox.rows(42)) == 4


def test_lease_has_one_holder_until_it_expires_or_is_released(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = LeaderLease(engine, "poller", 30, holder="a"), LeaderLease(engine, "poller", 30, holder="b")
    assert first.acquire() and first.acquire()  # renewing
    assert not second.acquire()
    with engine.begin() as conn:
        conn.execute(update(leader_leases).values(expires_at=time.time() - 1))  # the holder died
    assert second.acquire() and not first.acquire()
    second.release()
    assert first.acquire()


def test_a_keyboard_counts_its_first_press_only(engine) -> None:  # type: ignore[no-untyped-def]
    """A double tap sends two presses of one message: the second is not a choice; the first, run again, still is."""
    presses = ButtonPresses(engine)
    assert presses.is_first(chat_id=5, message_id=10, update_id=900)
    assert not presses.is_first(chat_id=5, message_id=10, update_id=901)
    assert presses.is_first(chat_id=5, message_id=10, update_id=900)  # the first press's turn replayed
    assert presses.is_first(chat_id=5, message_id=11, update_id=902)  # another message's keyboard
    assert presses.is_first(chat_id=6, message_id=10, update_id=903)  # another chat's message 10


def test_long_button_payloads_get_a_short_key(engine) -> None:  # type: ignore[no-untyped-def]
    callbacks = CallbackPayloads(engine)
    assert callbacks.data_for("/affirm") == "/affirm"
    long = '/inform{"issue_type": "withdrawal_stuck", "coin": "USDT", "network": "TRC20"}'
    data = callbacks.data_for(long)
    assert data.startswith("cb:") and len(data.encode()) <= 64
    assert callbacks.data_for(long) == data
    assert callbacks.payload_for(data) == long
    assert callbacks.payload_for("cb:unknown") is None
