"""Rasa's tracker store on ``DATABASE_URL``, with the same bounds on PostgreSQL as the case store."""

from __future__ import annotations

import time

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.cases.database import DATABASE_UNAVAILABLE, REPLY_MARGIN_SECONDS
from bot.runtime.tracker_store import EVENTS, DatabaseUrlTrackerStore

CONNECT, STATEMENT = 1.0, 1.0
SLACK = 1.5


def _tracker(sender: str, *texts: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, [UserUttered(t) for t in texts])


async def test_sqlite_store_keeps_a_conversation(sqlite_url):
    store = DatabaseUrlTrackerStore(Domain.empty(), host=sqlite_url)
    await store.save(_tracker("rest:a", "hello", "my deposit is missing"))
    restored = await store.retrieve("rest:a")
    assert [e.text for e in restored.events if isinstance(e, UserUttered)] == ["hello", "my deposit is missing"]


@pytest.mark.postgres
async def test_a_hung_database_fails_a_turn_in_bounded_time_and_keeps_what_was_saved(pg_url, proxy_to, monkeypatch):
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT_SECONDS", str(CONNECT))
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_SECONDS", str(STATEMENT))
    proxy = proxy_to("127.0.0.1", 5432)
    store = DatabaseUrlTrackerStore(Domain.empty(), host=proxy.route(pg_url))
    try:
        await store.save(_tracker("rest:b", "hello"))
        proxy.blackhole()
        started = time.monotonic()
        with pytest.raises(DATABASE_UNAVAILABLE):
            await store.retrieve("rest:b")
        assert time.monotonic() - started < STATEMENT + REPLY_MARGIN_SECONDS + CONNECT + SLACK
        proxy.forward()
        await store.save(_tracker("rest:b", "hello", "still there?"))
        restored = await store.retrieve("rest:b")
        assert [e.text for e in restored.events if isinstance(e, UserUttered)] == ["hello", "still there?"]
    finally:
        store.engine.dispose()


async def test_rows_read_and_written_as_rasas_own_store_does_across_sessions(database_url):
    """Ours and Rasa's ORM code on the same table: each reads what the other wrote, the latest session only."""
    store = DatabaseUrlTrackerStore(Domain.empty(), host=database_url)
    try:
        first = [ActionExecuted("action_session_start"), SessionStarted(timestamp=1.0), UserUttered("old", timestamp=2)]
        latest = [SessionStarted(timestamp=10.0), UserUttered("new", timestamp=11.0), SlotSet("case_id", "CX-1", 12.0)]
        await store.save(DialogueStateTracker.from_events("s:ours", first))
        await store.save(DialogueStateTracker.from_events("s:ours", first + latest))  # adds only the new events
        await SQLTrackerStore.save(store, DialogueStateTracker.from_events("s:rasa", first + latest))
        for sender in ("s:ours", "s:rasa"):
            ours, rasas = await store.retrieve(sender), await SQLTrackerStore.retrieve(store, sender)
            assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
            assert [e.text for e in ours.events if isinstance(e, UserUttered)] == ["new"]
            full = await store.retrieve_full_tracker(sender)
            assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["old", "new"]
        with store.engine.connect() as conn:
            rows = conn.execute(select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.action_name)).all()
        assert sorted(r[1:] for r in rows if r[0] == "s:ours") == sorted(r[1:] for r in rows if r[0] == "s:rasa")
        assert await store.retrieve("s:nobody") is None
    finally:
        store.engine.dispose()
