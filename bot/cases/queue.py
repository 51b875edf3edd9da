"""The agents' view of the queue: which cases (filters and search) in which order, and their reply times.

Search looks for every word typed, each anywhere in a case's id, the customer's handle
(the conversation key), its details (txids, addresses, usernames), summary or transcript,
ignoring case. It is a plain substring match on both databases: enough for a desk's
thousands of cases, and it finds part of a txid, which a word index would not.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, and_, cast, exists, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.routing import Routing
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


@dataclass(frozen=True)
class QueueFilter:
    """What an agent asks the queue for; the defaults are the working queue (open and claimed cases)."""

    statuses: tuple[str, ...] = ACTIVE_STATUSES
    priority: int | None = None
    channel: str | None = None
    assignee: str | None = None  # "mine"
    teams: tuple[str, ...] | None = None  # cases of these teams (as ``routing`` gives them), None: every team
    routing: Routing | None = None
    search: str = ""
    limit: int = 200


def find_cases(engine: Engine, wanted: QueueFilter) -> list[Case]:
    """Cases that pass the filter: active ones most urgent first, others most recently changed first."""
    conditions: list[ColumnElement[bool]] = [cases.c.status.in_(wanted.statuses)]
    if wanted.priority is not None:
        conditions.append(cases.c.priority == wanted.priority)
    if wanted.channel is not None:
        conditions.append(cases.c.channel == wanted.channel)
    if wanted.assignee is not None:
        conditions.append(cases.c.assignee == wanted.assignee)
    if wanted.teams is not None and wanted.routing is not None:
        conditions.append(wanted.routing.team_column().in_(wanted.teams))
    conditions += [_mentions(word) for word in wanted.search.lower().split()]
    working = set(wanted.statuses) <= set(ACTIVE_STATUSES)
    order = (cases.c.priority, cases.c.created_at) if working else (cases.c.updated_at.desc(),)
    with engine.connect() as conn:
        rows = conn.execute(select(cases).where(and_(*conditions)).order_by(*order).limit(wanted.limit)).all()
    return [Case.from_row(r) for r in rows]


def _mentions(word: str) -> ColumnElement[bool]:
    """The case holds ``word`` (lower case) in its id, handle, details, summary or transcript."""
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def has(column: ColumnElement[str]) -> ColumnElement[bool]:
        return func.lower(column).like(pattern, escape="\\")

    in_transcript = exists().where(case_messages.c.case_id == cases.c.id, has(case_messages.c.text))
    return or_(
        has(cases.c.id), has(cases.c.sender_id), has(cast(cases.c.details, Text)), has(cases.c.summary), in_transcript
    )


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
