"""Rasa's SQL tracker store on the engine ``make_engine`` builds, like the case store's.

Rasa's own engine waits on PostgreSQL without any limit (no connect or statement timeout,
no check of a pooled connection before use); this one has the timeouts of every other
part of the product. Reading and saving run off the event loop (Rasa's block it, so one
slow or locked database call stalled every conversation of the server) and use prepared
Core statements on Rasa's own ``events`` table: the same rows, read and written the same
way, for about half the CPU of Rasa's ORM queries (a fifth of a turn's under load).
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, func, insert, or_, select
from sqlalchemy.orm import sessionmaker

from bot.cases.database import in_thread, make_engine
from bot.settings import Settings

EVENTS = SQLTrackerStore.SQLEvent.__table__
_SESSION_START = (
    select(func.max(EVENTS.c.timestamp))
    .where(EVENTS.c.sender_id == bindparam("sender_id"), EVENTS.c.type_name == SessionStarted.type_name)
    .scalar_subquery()
)
# The latest session's events, as Rasa's ``_event_query`` selects them (all of them before any session start).
_LATEST_SESSION = (EVENTS.c.sender_id == bindparam("sender_id")) & or_(
    EVENTS.c.timestamp >= _SESSION_START, _SESSION_START.is_(None)
)
_READ = select(EVENTS.c.data).where(_LATEST_SESSION).order_by(EVENTS.c.id)
_COUNT = select(func.count()).select_from(EVENTS).where(_LATEST_SESSION)
_READ_ALL = select(EVENTS.c.data).where(EVENTS.c.sender_id == bindparam("sender_id")).order_by(EVENTS.c.id)


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """``tracker_store: {type: bot.runtime.tracker_store.DatabaseUrlTrackerStore}``: the ``DATABASE_URL`` database.

    Rasa hands a custom store the endpoint's ``url`` as ``host``; without one (``endpoints.yml``
    names none) the store uses ``DATABASE_URL``, like every other store of the product.
    """

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        settings = Settings.from_env()
        url = host or settings.database_url
        self.engine = make_engine(url, self.Base.metadata, timeouts=settings.database_timeouts)
        self.sessionmaker = sessionmaker(bind=self.engine)
        # SQLTrackerStore.__init__ would build a second, unbounded engine: start one level up.
        super(SQLTrackerStore, self).__init__(domain, event_broker, **kwargs)
        self._call_seconds = settings.database_timeouts.call

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session, or None when nothing is stored."""
        return self._tracker(sender_id, await in_thread(self._call_seconds, self._rows, _READ, sender_id))

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every session's events."""
        rows = await in_thread(self._call_seconds, self._rows, _READ_ALL, conversation_id)
        return self._tracker(conversation_id, rows)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events of the tracker's latest session that are not stored yet."""
        await self.stream_events(tracker)
        await in_thread(self._call_seconds, self._append, tracker.sender_id, list(tracker.events))

    def _rows(self, statement: Any, sender_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement, {"sender_id": sender_id}).scalars())

    def _tracker(self, sender_id: str, rows: list[str]) -> DialogueStateTracker | None:
        if not self.domain or not rows:
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for data in rows], self.domain.slots)

    def _append(self, sender_id: str, events: list[Any]) -> None:
        with self.engine.begin() as conn:
            stored = conn.execute(_COUNT, {"sender_id": sender_id}).scalar_one()
            rows = [_row(sender_id, event) for event in events[stored:]]
            if rows:
                conn.execute(insert(EVENTS), rows)


def _row(sender_id: str, event: Any) -> dict[str, Any]:
    """An ``events`` row as Rasa's ``save`` writes it."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }
