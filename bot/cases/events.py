"""Reading the outbox in order, for followers that need every event but no delivery record.

The desk's live feed is such a follower: each desk process pushes events to its own open
pages, so delivery is per process and in memory, not a row in the delivery ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.cases.schema import outbox


@dataclass(frozen=True)
class OutboxEvent:
    id: int
    event: str
    case_id: str
    payload: dict[str, Any]
    created_at: datetime


class OutboxReader:
    """The outbox's newest id, the ids after an id, and the events of given ids."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def newest_id(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one())

    def ids_after(self, outbox_id: int, limit: int = 500) -> list[int]:
        """Ids above ``outbox_id``, oldest first: a cheap look at what is new."""
        with self._engine.connect() as conn:
            query = select(outbox.c.id).where(outbox.c.id > outbox_id).order_by(outbox.c.id).limit(limit)
            return [int(i) for i in conn.execute(query).scalars()]

    def events(self, ids: list[int]) -> list[OutboxEvent]:
        """The events with these ids, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)).all()
        return [
            OutboxEvent(
                id=r.id, event=r.event, case_id=r.case_id, payload=dict(r.payload or {}), created_at=r.created_at
            )
            for r in rows
        ]
