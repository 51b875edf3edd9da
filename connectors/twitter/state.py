"""What the X channel must remember across restarts: cursors, handled events, offered choices.

The mentions ``since_id`` moves once fetched mentions are stored in the inbox, and the ids
of handled mentions and DM events are written when an event is finished, so a restart
neither misses one nor answers one twice. No Rasa here.
"""

from __future__ import annotations

import time

from sqlalchemy import JSON, Column, Float, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.migrations.runner import ensure_schema

metadata = MetaData()

x_cursors = Table(
    "x_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

x_processed = Table(
    "x_processed",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("event_id", String(160), primary_key=True),
    Column("processed_at", Float, nullable=False),
)

x_choices = Table(
    "x_choices",
    metadata,
    Column("sender_id", String(128), primary_key=True),
    Column("choices", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

MENTION, DM, THREAD = "mention", "dm", "thread"
MENTIONS_CURSOR, DM_FLOOR = "mentions_since_id", "dm_floor_id"


class XState:
    """Durable bookkeeping of the X channel in the shared database."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def cursor(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(select(x_cursors.c.value).where(x_cursors.c.name == name)).scalar()

    def set_cursor(self, name: str, value: str) -> None:
        with self._engine.begin() as conn:
            _set_cursor(conn, name, value)

    def processed(self, kind: str, event_id: str) -> bool:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(x_processed.c.event_id).where(x_processed.c.kind == kind, x_processed.c.event_id == event_id)
            ).first()
        return row is not None

    def finish(self, *events: tuple[str, str]) -> None:
        """Mark ``(kind, id)`` events handled, in one transaction."""
        for attempt in range(2):
            try:
                with self._engine.begin() as conn:
                    for kind, event_id in events:
                        known = conn.execute(
                            select(x_processed.c.event_id).where(
                                x_processed.c.kind == kind, x_processed.c.event_id == event_id
                            )
                        ).first()
                        if known is None:
                            conn.execute(
                                insert(x_processed).values(kind=kind, event_id=event_id, processed_at=time.time())
                            )
                return
            except IntegrityError:
                if attempt:
                    raise  # another process marked the same event twice in a row: not a race any more

    def save_choices(self, sender_id: str, choices: list[tuple[str, str]]) -> None:
        """Remember the (title, payload) options last offered to ``sender_id``."""
        values = {"choices": [list(c) for c in choices], "updated_at": time.time()}
        with self._engine.begin() as conn:
            changed = conn.execute(update(x_choices).where(x_choices.c.sender_id == sender_id).values(**values))
            if changed.rowcount == 0:
                conn.execute(insert(x_choices).values(sender_id=sender_id, **values))

    def take_choices(self, sender_id: str) -> list[tuple[str, str]]:
        """The options offered last, forgotten once the customer answers anything."""
        with self._engine.begin() as conn:
            row = conn.execute(select(x_choices.c.choices).where(x_choices.c.sender_id == sender_id)).first()
            if row is None:
                return []
            conn.execute(delete(x_choices).where(x_choices.c.sender_id == sender_id))
        return [(str(title), str(payload)) for title, payload in row.choices]


def _set_cursor(conn: Connection, name: str, value: str) -> None:
    changed = conn.execute(
        update(x_cursors).where(x_cursors.c.name == name).values(value=value, updated_at=time.time())
    )
    if changed.rowcount == 0:
        conn.execute(insert(x_cursors).values(name=name, value=value, updated_at=time.time()))
