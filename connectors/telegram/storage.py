"""The connector's own tables: updates received, replies to send, long button payloads, keyboards used.

No Rasa here. Each store takes the shared engine and creates its tables on first use, on
SQLite and PostgreSQL alike. Claims name the claiming instance (``bot.cases.instances``)
and are timed by the database's clock: a claim holds while its instance's heartbeat is
fresh, so a crashed process's work is taken over within seconds and a restarted process
takes its own earlier claims back at once.

The statements a turn runs are built once per store, with ``bindparam`` for what changes
between calls: SQLAlchemy memoizes a built statement's cache key, so a call only binds its
values. Built per call, these statements cost more CPU than SQLite's own work (about 7 ms
of every Telegram turn, on a server whose one core is the ceiling).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.instances import Instance, database_epoch
from bot.cases.schema import UtcDateTime
from bot.migrations.runner import ensure_schema

metadata = MetaData()

PENDING, DONE, FAILED = "pending", "done", "failed"
REPLIES_WAIT_FOR_TURN_SECONDS = 5.0  # a turn's replies wait for its end this long, then go as they are
SENDING, SENT = "sending", "sent"
CLAIMED, WAIT, TAKEN = "claimed", "wait", "taken"

telegram_updates = Table(
    "telegram_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_key", String(64), nullable=False, index=True),
    Column("payload", JSON(none_as_null=True)),  # the update, secrets redacted, kept until its turn is done
    Column("status", String(16), nullable=False, index=True),  # pending, done (turn complete) or failed
    Column("attempts", Integer, nullable=False, default=0),  # claims so far: above 1 the turn is a replay
    # tries that timed out, hung or lost an action call (transient errors do not count): set aside at the limit
    Column("turn_failures", Integer, nullable=False, default=0, server_default=text("0")),
    Column("claimed_by", String(128)),
    Column("claimed_at", Float),  # database clock
    Column("not_before", Float),  # database clock: retried after a transient error, not earlier
    Column("error", Text),  # the last error; kept on a failed row
    Column("created_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
)

telegram_replies = Table(
    "telegram_replies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False, index=True),
    Column("update_id", BigInteger),  # the update whose turn decided this reply (none for an agent's)
    Column("seq", Integer),  # its place among that turn's replies
    Column("reply_key", String(80)),  # which reply it is (response name, or a hash): a replay adds only what is missing
    Column("origin", String(16), nullable=False, default="bot"),
    Column("reference", String(64)),  # the agent's transcript line, for showing its delivery state
    Column("body", JSON, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending, sending, sent or failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("possible_duplicate", Boolean, nullable=False, default=False),  # resent after an unconfirmed send
    Column("claimed_by", String(128)),
    Column("claimed_at", Float),
    Column("not_before", Float),
    Column("message_id", BigInteger),
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("update_id", "seq", name="uq_telegram_replies_turn_seq"),
)

telegram_callbacks = Table(
    "telegram_callbacks",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("payload", Text, nullable=False),
)

telegram_button_presses = Table(
    "telegram_button_presses",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
    Column("update_id", BigInteger, nullable=False),  # the keyboard's first press: the one that counts
    Column("pressed_at", UtcDateTime, nullable=False),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _claimable(table: Table, instance: Instance, hold_seconds: float) -> ColumnElement[bool]:
    """Nobody holds the row: unclaimed, its holder's heartbeat stopped, or held for longer than any turn."""
    return or_(
        table.c.claimed_by.is_(None),
        table.c.claimed_by.notin_(instance.live_ids()),
        table.c.claimed_at < database_epoch() - hold_seconds,
    )


def _due(table: Table) -> ColumnElement[bool]:
    return or_(table.c.not_before.is_(None), table.c.not_before <= database_epoch())


def _earlier_pending() -> ColumnElement[bool]:
    """An earlier update of the same chat still waits for its turn."""
    earlier = telegram_updates.alias("earlier")
    return (
        select(earlier.c.update_id)
        .where(
            earlier.c.chat_key == telegram_updates.c.chat_key,
            earlier.c.update_id < telegram_updates.c.update_id,
            earlier.c.status == PENDING,
        )
        .exists()
    )


@dataclass(frozen=True)
class InboxItem:
    update_id: int
    chat_key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim; ``attempt`` above 1 means the turn may have run (partly) before.

    ``failures``: earlier tries that failed the turn itself (timed out, hung, lost an action call).
    """

    outcome: str
    attempt: int = 0
    failures: int = 0


class Inbox:
    """Updates stored before Telegram gets its 2xx; each turn claimed, run and marked done once."""

    def __init__(self, engine: Engine, instance: Instance, hold_seconds: float = 120.0) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._instance = instance
        self._hold = hold_seconds
        row = telegram_updates.c
        mine = row.update_id == bindparam("b_update_id")
        free = and_(_claimable(telegram_updates, instance, hold_seconds), _due(telegram_updates))
        self._store = insert(telegram_updates)
        self._claim = (
            update(telegram_updates)
            .where(mine, row.status == PENDING, free, ~_earlier_pending())
            .values(claimed_by=instance.id, claimed_at=database_epoch(), attempts=row.attempts + 1)
        )
        self._attempts = select(row.attempts, row.turn_failures).where(mine)
        self._waiting = select(row.update_id).where(mine, row.status == PENDING, _earlier_pending())
        finished: dict[str, Any] = {
            "status": bindparam("b_status"),
            "processed_at": bindparam("b_at"),
            "payload": None,
            "claimed_by": None,
        }
        self._finish = update(telegram_updates).where(mine).values(**finished)
        self._finish_with_error = update(telegram_updates).where(mine).values(**finished, error=bindparam("b_error"))
        self._oldest_of_chat = (
            select(row.update_id, row.chat_key, row.payload)
            .where(row.chat_key == bindparam("b_chat_key"), row.status == PENDING)
            .order_by(row.update_id)
            .limit(1)
        )
        self._free = select(row.update_id).where(mine, free)
        self._pending: dict[tuple[bool, bool, int | None], Any] = {}  # (next_only, stored_before given, limit)

    def store(self, update_id: int, chat_key: str, payload: dict[str, Any]) -> bool:
        """Keep the update durably; False when this ``update_id`` was already stored."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    self._store,
                    {
                        "update_id": update_id,
                        "chat_key": chat_key,
                        "payload": payload,
                        "status": PENDING,
                        "attempts": 0,
                        "turn_failures": 0,
                        "created_at": _now(),
                    },
                )
        except IntegrityError:
            return False
        return True

    def claim(self, update_id: int) -> Claim:
        """Take the update for its turn, only once every earlier update of its chat is finished.

        ``WAIT`` while an earlier update of the same chat is pending (perhaps on another
        instance), so chats keep their order across processes; ``TAKEN`` when it is
        finished, held by a live instance, or waiting out a retry delay.
        """
        mine = {"b_update_id": update_id}
        with self._engine.begin() as conn:
            if conn.execute(self._claim, mine).rowcount == 1:
                attempts, failures = conn.execute(self._attempts, mine).one()
                return Claim(CLAIMED, int(attempts), int(failures))
            waiting = conn.execute(self._waiting, mine).first()
        return Claim(WAIT if waiting is not None else TAKEN)

    def finish(self, update_id: int, status: str = DONE, error: str | None = None) -> None:
        """Mark the turn done (or failed, with its error) and drop the stored update.

        A done row keeps the last error of its earlier tries, for whoever looks into a slow turn.
        """
        values = {"b_update_id": update_id, "b_status": status, "b_at": _now(), "b_error": error}
        with self._engine.begin() as conn:
            conn.execute(self._finish if error is None else self._finish_with_error, values)

    def retry_later(self, update_id: int, error: str, delay_seconds: float, *, turn_failed: bool = False) -> None:
        """Give the update back; it is claimed again after ``delay_seconds``.

        ``turn_failed``: the try failed the turn itself (see ``Claim.failures``), not a store or network on the way.
        """
        row = telegram_updates.c
        failures = row.turn_failures + 1 if turn_failed else row.turn_failures
        due = database_epoch() + delay_seconds
        with self._engine.begin() as conn:
            conn.execute(
                update(telegram_updates)
                .where(row.update_id == update_id, row.status == PENDING)
                .values(claimed_by=None, error=error, turn_failures=failures, not_before=due)
            )

    def release_own_claims(self) -> int:
        """At start: whatever this instance id held belonged to its previous life, which is over."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    update(telegram_updates)
                    .where(telegram_updates.c.claimed_by == self._instance.id, telegram_updates.c.status == PENDING)
                    .values(claimed_by=None)
                ).rowcount
            )

    def pending(
        self, stored_before: datetime | None = None, *, next_only: bool = False, limit: int | None = None
    ) -> list[InboxItem]:
        """Updates waiting for their turn that nobody holds and that are due, oldest first.

        ``stored_before`` leaves fresh rows to the process that received them (it claims them
        within moments); ``next_only`` leaves out updates whose chat has an earlier one pending
        (a sweep takes them once that one is done, instead of having them wait).
        """
        shape = (next_only, stored_before is not None, limit)
        query = self._pending.get(shape)
        if query is None:
            query = self._pending[shape] = self._pending_query(*shape)
        with self._engine.connect() as conn:
            rows = conn.execute(query, {} if stored_before is None else {"b_stored_before": stored_before}).all()
        return [InboxItem(r.update_id, r.chat_key, r.payload) for r in rows]

    def _pending_query(self, next_only: bool, stored_before: bool, limit: int | None) -> Any:
        row = telegram_updates.c
        query = select(row.update_id, row.chat_key, row.payload).where(
            row.status == PENDING,
            _claimable(telegram_updates, self._instance, self._hold),
            _due(telegram_updates),
        )
        if next_only:
            query = query.where(~_earlier_pending())
        if stored_before:
            query = query.where(row.created_at < bindparam("b_stored_before"))
        return query.order_by(row.update_id).limit(limit)

    def next_of_chat(self, chat_key: str) -> InboxItem | None:
        """The chat's oldest pending update, if nobody holds it and it is due.

        Asked when a turn of the chat ends: its next update may have reached another
        instance, which left it here because an earlier update was still running.
        """
        with self._engine.connect() as conn:
            row = conn.execute(self._oldest_of_chat, {"b_chat_key": chat_key}).first()
            if row is None:
                return None
            free = conn.execute(self._free, {"b_update_id": row.update_id}).first()
        return InboxItem(row.update_id, row.chat_key, row.payload) if free is not None else None

    def status(self, update_id: int) -> str | None:
        row = self.row(update_id)
        return str(row["status"]) if row is not None else None

    def row(self, update_id: int) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            found = conn.execute(select(telegram_updates).where(telegram_updates.c.update_id == update_id)).first()
        return dict(found._mapping) if found is not None else None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    update_id: int | None
    body: dict[str, Any]
    attempts: int = 0
    blocked: bool = False  # held by a live sender elsewhere or waiting out a retry delay


class Outbox:
    """Replies recorded before they are sent, so a crash in between resends instead of losing them.

    A row is ``pending`` until claimed (``sending``), then ``sent`` or ``failed`` (refused by
    Telegram, or still unsendable after the last retry). A ``sending`` row whose holder died,
    and a send that timed out, are sent again and flagged ``possible_duplicate``: Telegram may
    have accepted the first try before we could record it. That is the only duplicate.
    """

    def __init__(self, engine: Engine, instance: Instance, hold_seconds: float = 60.0) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._instance = instance
        self._hold = hold_seconds
        row = telegram_replies.c
        free = and_(_claimable(telegram_replies, instance, hold_seconds), _due(telegram_replies))
        chosen = row.id.in_(bindparam("b_ids", expanding=True))
        unsent = row.status.in_((PENDING, SENDING))
        self._insert = _insert_new(engine.dialect.name, telegram_replies)
        self._due = (
            select(telegram_replies, free.label("free"))
            .where(row.chat_id == bindparam("b_chat_id"), unsent)
            .order_by(row.id)
        )
        self._claim = (
            update(telegram_replies)
            .where(chosen, unsent, free)
            .values(
                status=SENDING,
                claimed_by=instance.id,
                claimed_at=database_epoch(),
                attempts=row.attempts + 1,
                possible_duplicate=case((row.status == SENDING, True), else_=row.possible_duplicate),
            )
        )
        marked = {"status": bindparam("b_status"), "claimed_by": None, "error": bindparam("b_error")}
        self._mark = update(telegram_replies).where(chosen).values(**marked)
        self._mark_sent = (
            update(telegram_replies)
            .where(chosen)
            .values(**marked, message_id=bindparam("b_message_id"), sent_at=bindparam("b_sent_at"))
        )

    def add(
        self,
        chat_id: int,
        update_id: int | None,
        bodies: Sequence[dict[str, Any]],
        *,
        first_seq: int | None = None,
        keys: Sequence[str] | None = None,
        origin: str = "bot",
        reference: str | None = None,
    ) -> list[int]:
        """Record replies; a place of the turn (``first_seq`` on) that is already recorded is not added twice."""
        rows = [
            {
                "chat_id": chat_id,
                "update_id": update_id,
                "seq": None if first_seq is None else first_seq + index,
                "reply_key": keys[index] if keys is not None else None,
                "origin": origin,
                "reference": reference,
                "body": dict(body),
                "status": PENDING,
                "attempts": 0,
                "possible_duplicate": False,
                "created_at": _now(),
            }
            for index, body in enumerate(bodies)
        ]
        ids = []
        with self._engine.begin() as conn:
            for row in rows:
                inserted = conn.execute(self._insert, row)
                if inserted.rowcount == 1 and inserted.inserted_primary_key:
                    ids.append(int(inserted.inserted_primary_key[0]))
        return ids

    def recorded_keys(self, update_id: int) -> list[str]:
        """The replies a turn recorded so far, in order (what a replay of it must not add again)."""
        query = (
            select(telegram_replies.c.reply_key)
            .where(telegram_replies.c.update_id == update_id)
            .order_by(telegram_replies.c.seq)
        )
        with self._engine.connect() as conn:
            return [str(row[0] or "") for row in conn.execute(query)]

    def due(self, chat_id: int) -> list[OutboxItem]:
        """The chat's unsent rows in order; a row someone holds or that waits out a delay is ``blocked``."""
        with self._engine.connect() as conn:
            rows = conn.execute(self._due, {"b_chat_id": chat_id}).all()
        return [OutboxItem(r.id, r.chat_id, r.update_id, r.body, r.attempts, blocked=not r.free) for r in rows]

    def due_chats(self) -> list[int]:
        """Chats with a row that can be sent now (new, retry delay over, or abandoned mid-send), for the sweep.

        Not a reply of a turn another server is running (for a while): it goes out with the rest
        of its turn, from that server, once the turn is over. (Only the sweep asks: a chat's
        sending is woken here otherwise by its own turn, which no other server runs meanwhile.)
        """
        query = (
            select(telegram_replies.c.chat_id)
            .where(
                telegram_replies.c.status.in_((PENDING, SENDING)),
                _claimable(telegram_replies, self._instance, self._hold),
                _due(telegram_replies),
                ~self._turn_running_elsewhere(),
            )
            .distinct()
        )
        with self._engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(query)]

    def _turn_running_elsewhere(self) -> ColumnElement[bool]:
        """The row's turn was claimed by another server less than ``REPLIES_WAIT_FOR_TURN_SECONDS`` ago and runs."""
        turn = telegram_updates.c
        return (
            select(turn.update_id)
            .where(
                turn.update_id == telegram_replies.c.update_id,
                turn.status == PENDING,
                turn.claimed_by.is_not(None),
                turn.claimed_by != self._instance.id,
                turn.claimed_at > database_epoch() - REPLIES_WAIT_FOR_TURN_SECONDS,
            )
            .exists()
        )

    def claim(self, item_ids: Sequence[int]) -> bool:
        """Take rows for sending, all or none (one message may carry several).

        A row taken from a dead sender mid-send is flagged a possible duplicate.
        """
        try:
            with self._engine.begin() as conn:
                self._claim_all(conn, item_ids)
        except _NotAll:
            return False
        return True

    def _claim_all(self, conn: Connection, item_ids: Sequence[int]) -> None:
        result = conn.execute(self._claim, {"b_ids": list(item_ids)})
        if result.rowcount != len(set(item_ids)):
            raise _NotAll  # rolls the transaction back: a row is held elsewhere or already sent

    def mark(
        self, item_ids: Sequence[int], status: str, *, message_id: int | None = None, error: str | None = None
    ) -> None:
        values = {"b_ids": list(item_ids), "b_status": status, "b_error": error}
        with self._engine.begin() as conn:
            if status == SENT:
                conn.execute(self._mark_sent, {**values, "b_message_id": message_id, "b_sent_at": _now()})
            else:
                conn.execute(self._mark, values)

    def retry_later(
        self, item_ids: Sequence[int], error: str, delay_seconds: float, *, maybe_delivered: bool = False
    ) -> None:
        """Back to ``pending`` after a transient failure; ``maybe_delivered`` when Telegram may have it."""
        values: dict[str, Any] = {
            "status": PENDING,
            "claimed_by": None,
            "error": error,
            "not_before": database_epoch() + delay_seconds,
        }
        if maybe_delivered:
            values["possible_duplicate"] = True
        with self._engine.begin() as conn:
            conn.execute(update(telegram_replies).where(telegram_replies.c.id.in_(item_ids)).values(**values))

    def release_own_claims(self) -> int:
        """At start: a send this instance id had in flight when it died is due again (maybe delivered)."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    update(telegram_replies)
                    .where(telegram_replies.c.claimed_by == self._instance.id, telegram_replies.c.status == SENDING)
                    .values(claimed_by=None, status=PENDING, possible_duplicate=True)
                ).rowcount
            )

    def rows(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        query = select(telegram_replies).order_by(telegram_replies.c.id)
        if chat_id is not None:
            query = query.where(telegram_replies.c.chat_id == chat_id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def counts(self) -> dict[str, int]:
        """Rows by status, plus ``possible_duplicate`` (for reports and health)."""
        with self._engine.connect() as conn:
            by_status = dict(
                conn.execute(select(telegram_replies.c.status, func.count()).group_by(telegram_replies.c.status)).all()
            )
            duplicates = conn.execute(
                select(func.count()).select_from(telegram_replies).where(telegram_replies.c.possible_duplicate)
            ).scalar_one()
        return {**{str(k): int(v) for k, v in by_status.items()}, "possible_duplicate": int(duplicates)}


class _NotAll(Exception):
    """A claim of several rows found one of them taken."""


def _insert_new(dialect: str, table: Table) -> Any:
    """An INSERT that does nothing when the row's unique key exists (a replayed turn's reply)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return insert(table)


class CallbackPayloads:
    """Button payloads longer than Telegram's 64-byte ``callback_data``, stored under a short key."""

    PREFIX = "cb:"

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
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


class ButtonPresses:
    """Which update pressed each message's keyboard first.

    The bot removes a keyboard once used, but a double tap, or a client that has not seen the
    removal yet, sends a second press of the same message: it is not a second choice.
    """

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._record = _insert_new(engine.dialect.name, telegram_button_presses)
        t = telegram_button_presses.c
        self._first = select(t.update_id).where(
            (t.chat_id == bindparam("b_chat_id")) & (t.message_id == bindparam("b_message_id"))
        )

    def is_first(self, chat_id: int, message_id: int, update_id: int) -> bool:
        """True for the first press of the message's keyboard, also when that press's update runs again."""
        try:
            with self._engine.begin() as conn:
                row = {"chat_id": chat_id, "message_id": message_id, "update_id": update_id, "pressed_at": _now()}
                conn.execute(self._record, row)
        except IntegrityError:
            pass  # another process recorded a press of this keyboard at the same moment (or a dialect without upsert)
        with self._engine.connect() as conn:
            first = conn.execute(self._first, {"b_chat_id": chat_id, "b_message_id": message_id}).scalar()
        return first == update_id
