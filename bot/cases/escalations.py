"""One-time escalation steps per case (P1 re-alert, "nobody on duty" notice), recorded once.

A flag is set in the same transaction as the outbox row that announces the step, so a
restart neither repeats nor skips it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.cases.schema import UtcDateTime, outbox
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()

NO_AGENT_FLAG = "no_agent_notice"  # the customer was told nobody is on duty
P1_REALERT_FLAG = "p1_realert"  # an unclaimed P1 was announced to every agent

case_flags = Table(
    "case_flags",
    metadata,
    Column("case_id", String(16), nullable=False),
    Column("flag", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("case_id", "flag"),
)


class Escalations:
    """Set a case flag once and enqueue its outbox event with it."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def once(self, case_id: str, flag: str, event: str | None = None, payload: dict[str, Any] | None = None) -> bool:
        """True the first time ``flag`` is set for the case; the event is enqueued only then."""
        now = utcnow()
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(case_flags).values(case_id=case_id, flag=flag, at=now))
                if event is not None:
                    conn.execute(
                        insert(outbox).values(event=event, case_id=case_id, payload=payload or {}, created_at=now)
                    )
        except IntegrityError:
            return False
        return True

    def enqueued(self, case_id: str, event: str) -> bool:
        """Whether ``event`` was enqueued for the case (a flag set by the bot itself enqueues none)."""
        query = select(outbox.c.id).where(outbox.c.case_id == case_id, outbox.c.event == event).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def flags(self, case_id: str) -> set[str]:
        with self._engine.connect() as conn:
            return set(conn.execute(select(case_flags.c.flag).where(case_flags.c.case_id == case_id)).scalars())
