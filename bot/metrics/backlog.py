"""What waits in the shared database: outboxes, channel inboxes, leases, the agents' queue.

Read on each scrape and by the readiness checks, so every query is an aggregate over an
index (by status, destination or chat) and none reads a payload.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.engine import Connection, Engine

from bot.cases.deliveries import PENDING, deliveries
from bot.cases.instances import database_epoch
from bot.cases.leases import leader_leases
from bot.cases.queue import active_cases, reply_times
from bot.cases.schema import cases, outbox
from bot.cases.store import OPEN, utcnow
from bot.desk.sla import sla_state_at
from connectors.telegram import storage as telegram
from connectors.twitter.identity import CHANNEL as X_CHANNEL
from connectors.twitter.inbox import PENDING as X_PENDING
from connectors.twitter.inbox import x_inbox

TELEGRAM = "telegram"  # the channel name, as cases and metrics give it
TELEGRAM_REPLIES = "telegram_replies"  # the destination name of the Telegram customers' reply outbox


@dataclass(frozen=True)
class QueueState:
    """One outbox destination or one channel's inbox.

    ``overdue_seconds`` (outboxes): how long the longest-waiting row that could be sent now
    has been sendable; rows waiting out a retry back-off, or behind an earlier row of the
    same case or chat, are not overdue. ``stuck_chats`` (inboxes): chats (on X: users) whose
    oldest unhandled message is older than the stuck threshold.
    """

    name: str
    depth: int
    oldest_age_seconds: float
    overdue_seconds: float = 0.0
    stuck_chats: int = 0


@dataclass(frozen=True)
class LeaseState:
    name: str
    held: bool
    seconds_left: float


@dataclass(frozen=True)
class CaseQueue:
    """Open cases no agent has claimed yet, of one priority."""

    priority: int
    waiting: int
    oldest_wait_seconds: float


@dataclass(frozen=True)
class SlaCount:
    """Active cases of one priority in one SLA state (running, overdue, met, breached)."""

    priority: int
    state: str
    cases: int


@dataclass(frozen=True)
class Backlog:
    outboxes: tuple[QueueState, ...]
    inboxes: tuple[QueueState, ...]
    leases: tuple[LeaseState, ...]
    case_queues: tuple[CaseQueue, ...]
    sla: tuple[SlaCount, ...]


def read_backlog(
    engine: Engine,
    destinations: Sequence[str],
    chat_stuck_seconds: float,
    expected_leases: Sequence[str] = (),
    *,
    sla_minutes: dict[int, int],
) -> Backlog:
    """Everything at once (blocking: call it in a thread).

    ``expected_leases`` are the jobs the reading process knows should run: they appear as not
    held even before any process ever took them, so an alert on "not held" can fire.
    ``sla_minutes`` are the desk's targets (``DESK_SLA_MINUTES``).
    """
    now = utcnow()
    sla = tuple(sla_counts(engine, now, sla_minutes))
    with engine.connect() as conn:
        return Backlog(
            sla=sla,
            outboxes=(*(case_event_outbox(conn, d, now) for d in destinations), telegram_reply_outbox(conn, now)),
            inboxes=(
                telegram_inbox(conn, now, chat_stuck_seconds),
                x_inbox_state(conn, now, chat_stuck_seconds),
            ),
            leases=tuple(lease_states(conn, expected_leases)),
            case_queues=tuple(case_queues(conn, now)),
        )


def case_event_outbox(conn: Connection, destination: str, now: datetime) -> QueueState:
    """Case events not yet delivered to ``destination``: pending deliveries, and rows not yet planned for it.

    The dispatcher plans rows in id order, so the rows after the highest planned id are the
    unplanned ones; they are sendable from the moment they exist.
    """
    planned = conn.execute(
        select(func.max(deliveries.c.outbox_id)).where(deliveries.c.destination == destination)
    ).scalar()
    unplanned, unplanned_since = conn.execute(
        select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.id > (planned or 0))
    ).one()
    pending, pending_since = conn.execute(
        select(func.count(), func.min(outbox.c.created_at))
        .select_from(deliveries.join(outbox, outbox.c.id == deliveries.c.outbox_id))
        .where(deliveries.c.destination == destination, deliveries.c.status == PENDING)
    ).one()
    earlier = deliveries.alias("earlier")
    first_of_its_case = ~exists().where(
        earlier.c.destination == destination,
        earlier.c.case_id == deliveries.c.case_id,
        earlier.c.status == PENDING,
        earlier.c.outbox_id < deliveries.c.outbox_id,
    )
    sendable_since = conn.execute(
        select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.destination == destination, deliveries.c.status == PENDING, first_of_its_case
        )
    ).scalar()
    return QueueState(
        name=destination,
        depth=int(unplanned) + int(pending),
        oldest_age_seconds=_age(now, unplanned_since, pending_since),
        overdue_seconds=_age(now, unplanned_since, sendable_since),
    )


def telegram_reply_outbox(conn: Connection, now: datetime) -> QueueState:
    """Replies waiting to be sent to Telegram customers (``telegram_replies``)."""
    table = telegram.telegram_replies
    waiting = table.c.status.in_((telegram.PENDING, telegram.SENDING))
    depth, oldest = conn.execute(select(func.count(), func.min(table.c.created_at)).where(waiting)).one()
    earlier = table.alias("earlier")
    first_of_its_chat = ~exists().where(
        earlier.c.chat_id == table.c.chat_id,
        earlier.c.id < table.c.id,
        earlier.c.status.in_((telegram.PENDING, telegram.SENDING)),
    )
    due = or_(table.c.not_before.is_(None), table.c.not_before <= database_epoch())
    never_retried, retried, database_now = conn.execute(
        select(
            func.min(case((table.c.not_before.is_(None), table.c.created_at))),
            func.min(table.c.not_before),
            database_epoch(),
        ).where(waiting, first_of_its_chat, due)
    ).one()
    overdue = _age(now, never_retried)
    if retried is not None:
        overdue = max(overdue, float(database_now) - float(retried))
    return QueueState(TELEGRAM_REPLIES, int(depth), _age(now, oldest), overdue_seconds=overdue)


def telegram_inbox(conn: Connection, now: datetime, stuck_seconds: float) -> QueueState:
    table = telegram.telegram_updates
    pending = table.c.status == telegram.PENDING
    depth, oldest = conn.execute(select(func.count(), func.min(table.c.created_at)).where(pending)).one()
    stuck = conn.execute(
        select(func.count(func.distinct(table.c.chat_key))).where(
            pending, table.c.created_at < now - timedelta(seconds=stuck_seconds)
        )
    ).scalar()
    return QueueState(TELEGRAM, int(depth), _age(now, oldest), stuck_chats=int(stuck or 0))


def x_inbox_state(conn: Connection, now: datetime, stuck_seconds: float) -> QueueState:
    pending = x_inbox.c.status == X_PENDING
    depth, oldest = conn.execute(select(func.count(), func.min(x_inbox.c.created_at)).where(pending)).one()
    stuck = conn.execute(
        select(func.count(func.distinct(x_inbox.c.user_id))).where(
            and_(pending, x_inbox.c.created_at < now - timedelta(seconds=stuck_seconds))
        )
    ).scalar()
    return QueueState(X_CHANNEL, int(depth), _age(now, oldest), stuck_chats=int(stuck or 0))


def lease_states(conn: Connection, expected: Sequence[str] = ()) -> list[LeaseState]:
    """Every named lease, and each ``expected`` one nobody took yet (not held).

    Leases are timed by their holders' clocks (``time.time()``), so this is too.
    """
    now = time.time()
    rows = conn.execute(select(leader_leases.c.name, leader_leases.c.expires_at))
    states = {r.name: LeaseState(r.name, r.expires_at > now, max(0.0, r.expires_at - now)) for r in rows}
    for name in expected:
        states.setdefault(name, LeaseState(name, False, 0.0))
    return [states[name] for name in sorted(states)]


def case_queues(conn: Connection, now: datetime) -> list[CaseQueue]:
    rows = conn.execute(
        select(cases.c.priority, func.count(), func.min(cases.c.created_at))
        .where(cases.c.status == OPEN)
        .group_by(cases.c.priority)
        .order_by(cases.c.priority)
    ).all()
    return [CaseQueue(int(priority), int(count), _age(now, oldest)) for priority, count, oldest in rows]


def sla_counts(engine: Engine, now: datetime, sla_minutes: dict[int, int]) -> list[SlaCount]:
    """The SLA of every open or claimed case by the desk's own rule and reply times (the queue and reports use them)."""
    active = active_cases(engine)
    times = reply_times(engine, [c.id for c in active])
    counted = Counter((c.priority, sla_state_at(c, times[c.id], sla_minutes, now)) for c in active)
    return [SlaCount(priority, state, n) for (priority, state), n in sorted(counted.items())]


def _age(now: datetime, *moments: datetime | None) -> float:
    """Seconds since the earliest of ``moments`` (0 when there is none, or it is in the future)."""
    known = [moment for moment in moments if moment is not None]
    return max(0.0, (now - min(known)).total_seconds()) if known else 0.0
