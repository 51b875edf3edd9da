"""The agents' view of the queue: active cases, most urgent and longest waiting first, and their reply times."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.cases.schema import case_messages, cases
from bot.cases.store import ACTIVE_STATUSES, Case

AGENT, CUSTOMER = "agent", "customer"


@dataclass(frozen=True)
class ReplyTimes:
    """When an agent first wrote to the customer, and since when the customer waits for an answer.

    ``waiting_since`` is the oldest customer message that no agent reply has followed; None
    when the agent had the last word (or the customer never wrote).
    """

    first_reply_at: datetime | None
    waiting_since: datetime | None


NO_REPLIES = ReplyTimes(None, None)


def active_cases(engine: Engine, statuses: tuple[str, ...] = ACTIVE_STATUSES) -> list[Case]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(cases).where(cases.c.status.in_(statuses)).order_by(cases.c.priority, cases.c.created_at)
        ).all()
    return [Case.from_row(r) for r in rows]


def reply_times(engine: Engine, case_ids: Collection[str]) -> dict[str, ReplyTimes]:
    """Reply times of each case in ``case_ids`` (two grouped queries, whatever the number of cases)."""
    if not case_ids:
        return {}
    m = case_messages.c
    ids = list(case_ids)
    agent_lines = (
        select(m.case_id, func.min(m.at).label("first_at"), func.max(m.id).label("last_id"))
        .where(m.case_id.in_(ids), m.role == AGENT)
        .group_by(m.case_id)
        .subquery()
    )
    unanswered = (
        select(m.case_id, func.min(m.at).label("since"))
        .select_from(case_messages.outerjoin(agent_lines, agent_lines.c.case_id == m.case_id))
        .where(m.case_id.in_(ids), m.role == CUSTOMER, m.id > func.coalesce(agent_lines.c.last_id, 0))
        .group_by(m.case_id)
    )
    with engine.connect() as conn:
        firsts = {r.case_id: r.first_at for r in conn.execute(select(agent_lines.c.case_id, agent_lines.c.first_at))}
        waiting = {r.case_id: r.since for r in conn.execute(unanswered)}
    return {case_id: ReplyTimes(firsts.get(case_id), waiting.get(case_id)) for case_id in ids}
