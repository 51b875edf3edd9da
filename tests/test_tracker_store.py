"""Rasa's tracker store on ``DATABASE_URL``, with the same bounds on PostgreSQL as the case store."""

from __future__ import annotations

import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.cases.database import DATABASE_UNAVAILABLE, REPLY_MARGIN_SECONDS
from bot.runtime.tracker_store import DatabaseUrlTrackerStore

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
