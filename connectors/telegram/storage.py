"""The connector's own tables: inbox of updates, outbox of replies, long button payloads.

No Rasa here. Each store takes the shared engine and creates its tables on first use, on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.cases.schema import UtcDateTime

metadata = MetaData()

PENDING, DONE, FAILED = "pending", "done", "failed"
SENDING, SENT, UNCERTAIN = "sending", "sent", "uncertain"
CLAIMED, WAIT, TAKEN = "claimed", "wait", "taken"

telegram_inbox = Table(
    "telegram_inbox",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_key", String(64), nullable=False, index=True),
    Column("payload", JSON(none_as_null=True)),  # the update, secrets redacted, kept until it is processed
    Column("status", String(16), nullable=False, index=True),
    Column("claimed_until", Float),
    Column("created_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
)

telegram_outbox = Table(
    "telegram_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False, index=True),
    Column("update_id", BigInteger, index=True),
    Column("body", JSON, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("claimed_until", Float),
    Column("message_id", BigInteger),
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
)

telegram_callbacks = Table(
    "telegram_callbacks",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("payload", Text, nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    chat_key: str
    payload: dict[str, Any]


class Inbox:
    """Updates stored before Telegram gets its 2xx; each one claimed and processed once."""

    def __init__(self, engine: Engine) -> None:
        metadata.create_all(engine)
        self._engine = engine

    def store(self, update_id: int, chat_key: str, payload: dict[str, Any]) -> bool:
        """Keep the update durably; False when this ``update_id`` was already stored."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(telegram_inbox).values(
                        update_id=update_id, chat_key=chat_key, payload=payload, status=PENDING, created_at=_now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def claim(self, update_id: int, lease_seconds: float = 120.0) -> str:
        """Take the update for processing, only once every earlier update of its chat is finished.

        Returns ``CLAIMED``; ``WAIT`` while an earlier update of the same chat is still
        pending (perhaps on another instance), so chats keep their order across processes;
        ``TAKEN`` when it is finished or another live worker holds it.
        """
        now = time.time()
        earlier = telegram_inbox.alias("earlier")
        earlier_pending = (
            select(earlier.c.update_id)
            .where(
                earlier.c.chat_key == telegram_inbox.c.chat_key,
                earlier.c.update_id < telegram_inbox.c.update_id,
                earlier.c.status == PENDING,
            )
            .exists()
        )
        with self._engine.begin() as conn:
            result = conn.execute(
                update(telegram_inbox)
                .where(
                    telegram_inbox.c.update_id == update_id,
                    telegram_inbox.c.status == PENDING,
                    or_(telegram_inbox.c.claimed_until.is_(None), telegram_inbox.c.claimed_until < now),
                    ~earlier_pending,
                )
                .values(claimed_until=now + lease_seconds)
            )
            if result.rowcount == 1:
                return CLAIMED
            waiting = conn.execute(
                select(telegram_inbox.c.update_id).where(
                    telegram_inbox.c.update_id == update_id, telegram_inbox.c.status == PENDING, earlier_pending
                )
            ).first()
        return WAIT if waiting is not None else TAKEN

    def finish(self, update_id: int, status: str = DONE) -> None:
        """Mark the update processed and drop the stored update (what the case needs is on the case)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(telegram_inbox)
                .where(telegram_inbox.c.update_id == update_id)
                .values(status=status, payload=None, processed_at=_now(), claimed_until=None)
            )

    def pending(self, stored_before: datetime | None = None) -> list[InboxItem]:
        """Updates stored but not processed and not claimed by a live worker, oldest first.

        ``stored_before`` leaves fresh rows to the process that received them (it claims them
        within moments); rows older than that were orphaned by a process that died.
        """
        query = select(telegram_inbox.c.update_id, telegram_inbox.c.chat_key, telegram_inbox.c.payload).where(
            telegram_inbox.c.status == PENDING,
            or_(telegram_inbox.c.claimed_until.is_(None), telegram_inbox.c.claimed_until < time.time()),
        )
        if stored_before is not None:
            query = query.where(telegram_inbox.c.created_at < stored_before)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(telegram_inbox.c.update_id)).all()
        return [InboxItem(r.update_id, r.chat_key, r.payload) for r in rows]

    def status(self, update_id: int) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(telegram_inbox.c.status).where(telegram_inbox.c.update_id == update_id)
            ).scalar()
        return str(value) if value is not None else None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    update_id: int | None
    body: dict[str, Any]


class Outbox:
    """Replies recorded before they are sent, so a crash in between resends instead of losing them.

    A row is ``pending`` until claimed (``sending``, with a lease), then ``sent``,
    ``uncertain`` (timed out: Telegram may have it, so it is not resent) or ``failed``.
    A ``sending`` row whose lease ran out belonged to a process that died mid-send: it is
    sent again, the one duplicate Telegram can cause.
    """

    def __init__(self, engine: Engine) -> None:
        metadata.create_all(engine)
        self._engine = engine

    def add(self, chat_id: int, update_id: int | None, bodies: Sequence[dict[str, Any]]) -> list[int]:
        ids = []
        with self._engine.begin() as conn:
            for body in bodies:
                result = conn.execute(
                    insert(telegram_outbox).values(
                        chat_id=chat_id, update_id=update_id, body=dict(body), status=PENDING, created_at=_now()
                    )
                )
                ids.append(int(result.inserted_primary_key[0]))
        return ids

    def due(self, chat_id: int | None = None) -> list[OutboxItem]:
        """Rows to send, oldest first: pending ones and abandoned claims."""
        now = time.time()
        query = select(telegram_outbox).where(
            or_(
                telegram_outbox.c.status == PENDING,
                (telegram_outbox.c.status == SENDING) & (telegram_outbox.c.claimed_until < now),
            )
        )
        if chat_id is not None:
            query = query.where(telegram_outbox.c.chat_id == chat_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(telegram_outbox.c.id)).all()
        return [OutboxItem(r.id, r.chat_id, r.update_id, r.body) for r in rows]

    def claim(self, item_id: int, lease_seconds: float = 120.0) -> bool:
        now = time.time()
        with self._engine.begin() as conn:
            result = conn.execute(
                update(telegram_outbox)
                .where(
                    telegram_outbox.c.id == item_id,
                    or_(
                        telegram_outbox.c.status == PENDING,
                        (telegram_outbox.c.status == SENDING) & (telegram_outbox.c.claimed_until < now),
                    ),
                )
                .values(status=SENDING, claimed_until=now + lease_seconds)
            )
        return bool(result.rowcount == 1)

    def mark(self, item_id: int, status: str, *, message_id: int | None = None, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "claimed_until": None, "error": error}
        if status == SENT:
            values.update(message_id=message_id, sent_at=_now())
        with self._engine.begin() as conn:
            conn.execute(update(telegram_outbox).where(telegram_outbox.c.id == item_id).values(**values))

    def has_replies(self, update_id: int) -> bool:
        """True when the bot already decided its replies to this update (a replay must not ask again)."""
        with self._engine.connect() as conn:
            return (
                conn.execute(
                    select(telegram_outbox.c.id).where(telegram_outbox.c.update_id == update_id).limit(1)
                ).first()
                is not None
            )

    def rows(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        query = select(telegram_outbox).order_by(telegram_outbox.c.id)
        if chat_id is not None:
            query = query.where(telegram_outbox.c.chat_id == chat_id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]


class CallbackPayloads:
    """Button payloads longer than Telegram's 64-byte ``callback_data``, stored under a short key."""

    PREFIX = "cb:"

    def __init__(self, engine: Engine) -> None:
        metadata.create_all(engine)
        self._engine = engine

    def data_for(self, payload: str) -> str:
        if len(payload.encode()) <= 64:
            return payload
        key = hashlib.sha256(payload.encode()).hexdigest()[:24]
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(telegram_callbacks).values(key=key, payload=payload))
        except IntegrityError:
            pass  # the same payload was stored before
        return self.PREFIX + key

    def payload_for(self, data: str) -> str | None:
        """The payload behind ``data``; ``None`` for an unknown key (a button from a wiped database)."""
        if not data.startswith(self.PREFIX):
            return data
        with self._engine.connect() as conn:
            value = conn.execute(
                select(telegram_callbacks.c.payload).where(telegram_callbacks.c.key == data[len(self.PREFIX) :])
            ).scalar()
        return str(value) if value is not None else None
