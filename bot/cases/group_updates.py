"""Which updates of the agents' Telegram group were handled, so a crash re-reads but never re-acts.

The group bot confirms an update to Telegram (by the next ``getUpdates`` offset) only after
its row here is finished, so an update cut short by a crash or a lost lease is read again.
A finished row makes the re-read a no-op; a row still ``handling`` tells the bot the work
may be half done, so it repeats only what is safe to repeat.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.cases.schema import UtcDateTime
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()

HANDLING, DONE, FAILED = "handling", "done", "failed"  # row status
NEW, INTERRUPTED, SEEN = "new", "interrupted", "seen"  # what ``begin`` found

agent_group_updates = Table(
    "agent_group_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
)


class GroupUpdates:
    """One row per update of the agents' group: started, then done or failed (with its error)."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def begin(self, update_id: int) -> str:
        """``NEW`` the first time; ``INTERRUPTED`` when an earlier start never finished; ``SEEN`` once finished."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(agent_group_updates).values(update_id=update_id, status=HANDLING, started_at=utcnow())
                )
        except IntegrityError:
            return INTERRUPTED if self.status(update_id) == HANDLING else SEEN
        return NEW

    def finish(self, update_id: int, error: str | None = None) -> None:
        """Mark the update handled (``FAILED`` with ``error`` when it raised: logged, not retried)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(agent_group_updates)
                .where(agent_group_updates.c.update_id == update_id)
                .values(status=FAILED if error else DONE, error=error, finished_at=utcnow())
            )

    def status(self, update_id: int) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(agent_group_updates.c.status).where(agent_group_updates.c.update_id == update_id)
            ).scalar()
        return str(value) if value is not None else None

    def forget_finished_before(self, cutoff: datetime) -> None:
        """Drop rows of updates finished before ``cutoff``: Telegram keeps an update for 24 hours at most."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(agent_group_updates).where(
                    agent_group_updates.c.status != HANDLING, agent_group_updates.c.finished_at < cutoff
                )
            )
