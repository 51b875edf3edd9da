"""Per-destination delivery state of outbox rows, and the alert messages agents reply to.

The outbox says *what* happened; this ledger says, for every destination (agents' group,
desk feed, webhook), whether that row reached it. A destination that is down keeps its
rows pending with a growing back-off while the others move on, so nothing is lost and a
delivered row is not sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.cases.schema import UtcDateTime, cases, outbox
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()

PENDING, DELIVERED = "pending", "delivered"

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),
    Column("case_id", String(16), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    UniqueConstraint("outbox_id", "destination", name="uq_delivery_row_destination"),
    Index("ix_deliveries_due", "destination", "status", "next_attempt_at"),
)

alert_messages = Table(
    "alert_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("case_id", String(16), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    UniqueConstraint("chat_id", "message_id", name="uq_alert_message"),
)


@dataclass(frozen=True)
class Delivery:
    """One outbox row due at one destination."""

    id: int
    outbox_id: int
    case_id: str
    destination: str
    attempts: int
    event: str
    payload: dict[str, Any]
    created_at: datetime
    priority: int = 3  # of the case, when it was claimed


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off between attempts, capped, so a long outage costs few requests."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempts: int) -> float:
        return min(self.max_seconds, self.base_seconds * (2 ** max(0, attempts - 1)))


class DeliveryLedger:
    """Plan, claim and settle deliveries; safe with several dispatchers on PostgreSQL."""

    def __init__(self, engine: Engine, *, backoff: Backoff | None = None, lease_seconds: float = 60.0) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._backoff = backoff or Backoff()
        self._lease = timedelta(seconds=lease_seconds)

    def plan(self, destinations: Iterable[str], batch: int = 500) -> int:
        """Create pending deliveries for outbox rows a destination has not seen yet."""
        planned = 0
        now = utcnow()
        with self._engine.begin() as conn:
            for destination in destinations:
                rows = conn.execute(
                    select(outbox.c.id, outbox.c.case_id)
                    .where(
                        ~exists().where(
                            and_(deliveries.c.outbox_id == outbox.c.id, deliveries.c.destination == destination)
                        )
                    )
                    .order_by(outbox.c.id)
                    .limit(batch)
                ).all()
                if rows:
                    values = [
                        {
                            "outbox_id": r.id,
                            "case_id": r.case_id,
                            "destination": destination,
                            "status": PENDING,
                            "attempts": 0,
                            "next_attempt_at": now,
                        }
                        for r in rows
                    ]
                    conn.execute(_insert_ignoring_duplicates(conn), values)
                    planned += len(rows)
        return planned

    def claim_due(self, destination: str, limit: int = 50) -> list[Delivery]:
        """Lease due deliveries, most urgent case first, skipping a case whose earlier row is pending.

        Keeping each case in order means an agent never sees a customer's message before
        the alert it belongs to; a stuck row delays only its own case.
        """
        now = utcnow()
        earlier = deliveries.alias("earlier")
        with self._engine.begin() as conn:
            query = (
                select(deliveries, outbox.c.event, outbox.c.payload, outbox.c.created_at, cases.c.priority)
                .join(outbox, outbox.c.id == deliveries.c.outbox_id)
                .join(cases, cases.c.id == deliveries.c.case_id)
                .where(
                    deliveries.c.destination == destination,
                    deliveries.c.status == PENDING,
                    deliveries.c.next_attempt_at <= now,
                    ~exists().where(
                        and_(
                            earlier.c.destination == destination,
                            earlier.c.case_id == deliveries.c.case_id,
                            earlier.c.status == PENDING,
                            earlier.c.outbox_id < deliveries.c.outbox_id,
                        )
                    ),
                )
                .order_by(cases.c.priority, deliveries.c.outbox_id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(of=deliveries, skip_locked=True)
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + self._lease)
                )
        return [
            Delivery(
                id=r.id,
                outbox_id=r.outbox_id,
                case_id=r.case_id,
                destination=r.destination,
                attempts=r.attempts,
                event=r.event,
                payload=dict(r.payload or {}),
                created_at=r.created_at,
                priority=r.priority,
            )
            for r in rows
        ]

    def delivered(self, deliveries_: Sequence[Delivery]) -> None:
        """Settle rows the destination accepted (a digest settles hundreds in one statement)."""
        if not deliveries_:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([d.id for d in deliveries_]))
                .values(status=DELIVERED, delivered_at=utcnow(), attempts=deliveries.c.attempts + 1, last_error=None)
            )

    def postpone(self, deliveries_: Iterable[Delivery], seconds: float) -> None:
        """Give claimed rows back, due again in ``seconds``; not an attempt (the destination asked to wait)."""
        ids = [d.id for d in deliveries_]
        if not ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids))
                .values(next_attempt_at=utcnow() + timedelta(seconds=seconds))
            )

    def failed(self, delivery: Delivery, error: str) -> float:
        """Record a failed attempt; returns the back-off in seconds before the next one."""
        attempts = delivery.attempts + 1
        delay = self._backoff.delay(attempts)
        with self._engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery.id)
                .values(attempts=attempts, last_error=error[:2000], next_attempt_at=utcnow() + timedelta(seconds=delay))
            )
        return delay

    def counts(self, destination: str) -> dict[str, int]:
        """Pending and delivered rows of one destination (for health checks and tests)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(deliveries.c.status).where(deliveries.c.destination == destination)).all()
        result = {PENDING: 0, DELIVERED: 0}
        for row in rows:
            result[row.status] += 1
        return result

    def remember_alert_message(self, case_id: str, chat_id: int, message_id: int) -> None:
        """Keep the id of a message posted about a case, so a reply to it finds the case."""
        with self._engine.begin() as conn:
            conn.execute(
                _insert_ignoring_duplicates(conn, alert_messages),
                [{"case_id": case_id, "chat_id": chat_id, "message_id": message_id, "at": utcnow()}],
            )

    def case_for_message(self, chat_id: int, message_id: int) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(
                select(alert_messages.c.case_id).where(
                    alert_messages.c.chat_id == chat_id, alert_messages.c.message_id == message_id
                )
            ).scalar()

    def first_alert_message(self, case_id: str, chat_id: int) -> int | None:
        """The case's first alert in the group, which later updates reply to."""
        with self._engine.connect() as conn:
            return conn.execute(
                select(alert_messages.c.message_id)
                .where(alert_messages.c.case_id == case_id, alert_messages.c.chat_id == chat_id)
                .order_by(alert_messages.c.id)
                .limit(1)
            ).scalar()


def _insert_ignoring_duplicates(conn: Connection, table: Table = deliveries) -> Any:
    """INSERT that skips rows another dispatcher inserted first."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return insert(table)
