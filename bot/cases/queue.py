"""The agents' view of the queue: active cases, most urgent and longest waiting first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.schema import cases
from bot.cases.store import ACTIVE_STATUSES, Case


def active_cases(engine: Engine, statuses: tuple[str, ...] = ACTIVE_STATUSES) -> list[Case]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(cases).where(cases.c.status.in_(statuses)).order_by(cases.c.priority, cases.c.created_at)
        ).all()
    return [Case.from_row(r) for r in rows]
