"""Mentions and DM events stored before they are handled, so none is lost or blocks the others.

Both ways events arrive (the poller and X's webhook) store them here first, secrets
redacted: the poller moves its cursor, and the webhook answers 200, only once they are
stored. A user's events are handled in id order (a later one waits for the earlier); an
event that fails is tried again later and, after too many failures, set aside with its
error, so the user's next events go on. No Rasa here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.cases.redaction import UNLABELLED_HEX, redact
from bot.cases.schema import UtcDateTime
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema
from connectors.gate import valid_strings
from connectors.twitter.sender import DmEvent, Mention
from connectors.twitter.state import DM, MENTION

metadata = MetaData()

PENDING, DONE, FAILED = "pending", "done", "failed"
ID_DIGITS = 20  # X ids are decimal snowflakes of at most 20 digits; zero-padded they sort as numbers

x_inbox = Table(
    "x_inbox",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("event_id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False),  # the author or sender: events of one user keep their order
    Column("sort_key", String(32), nullable=False),
    Column("payload", JSON(none_as_null=True)),  # redacted; dropped once handled, kept when set aside
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),  # every try, transient errors included
    Column("failures", Integer, nullable=False),  # tries that count towards setting it aside
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("error", Text),  # the last error
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Index("ix_x_inbox_due", "status", "next_attempt_at"),
    Index("ix_x_inbox_user", "user_id", "sort_key"),
)

Event = Mention | DmEvent


@dataclass(frozen=True)
class InboxItem:
    """A stored event claimed for handling; ``redacted`` are the kinds of secret taken out of its text."""

    kind: str
    event: Event
    redacted: tuple[str, ...]
    attempts: int
    failures: int

    @property
    def event_id(self) -> str:
        return self.event.id


class XInbox:
    """Durable queue of the X channel's incoming events in the shared database."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def store(self, events: Sequence[Event]) -> int:
        """Keep ``events`` (text redacted first) in one transaction; return how many were new."""
        rows = {(_kind(e), e.id): _row(e) for e in events}
        if not rows:
            return 0
        try:
            return self._insert_new(rows)
        except IntegrityError:  # another process stored some of them meanwhile: look again
            return self._insert_new(rows)

    def known(self, kind: str, event_ids: Iterable[str]) -> set[str]:
        """Which of ``event_ids`` are stored already (handled or not)."""
        ids = list(event_ids)
        if not ids:
            return set()
        with self._engine.connect() as conn:
            found = conn.execute(
                select(x_inbox.c.event_id).where(x_inbox.c.kind == kind, x_inbox.c.event_id.in_(ids))
            ).scalars()
            return set(found)

    def claim_next(self, lease_seconds: float) -> InboxItem | None:
        """The oldest event that is due and first in line for its user, claimed for ``lease_seconds``."""
        now = time.time()
        claimable = (
            x_inbox.c.status == PENDING,
            x_inbox.c.next_attempt_at <= now,
            or_(x_inbox.c.claimed_until.is_(None), x_inbox.c.claimed_until < now),
            _first_in_line(),
        )
        with self._engine.connect() as conn:  # a few, in case other processes claim the first ones
            candidates = conn.execute(
                select(x_inbox.c.kind, x_inbox.c.event_id).where(*claimable).order_by(x_inbox.c.sort_key).limit(5)
            ).all()
        for kind, event_id in candidates:
            with self._engine.begin() as conn:
                claimed = conn.execute(
                    update(x_inbox)
                    .where(x_inbox.c.kind == kind, x_inbox.c.event_id == event_id, *claimable)
                    .values(claimed_until=now + lease_seconds)
                )
                if claimed.rowcount == 1:
                    row = conn.execute(select(x_inbox).where(x_inbox.c.kind == kind, x_inbox.c.event_id == event_id))
                    return _item(row.one())
        return None  # none due, or another process claimed them first

    def done(self, item: InboxItem) -> None:
        """Handled: the stored text is dropped (what a case needs is on the case)."""
        self._finish(item, status=DONE, payload=None, error=None, finished_at=utcnow(), attempts=x_inbox.c.attempts + 1)

    def retry(self, item: InboxItem, error: str, delay: float, *, counted: bool) -> None:
        """Try the event again in ``delay`` seconds; ``counted`` failures lead to setting it aside."""
        self._finish(
            item,
            error=error,
            attempts=x_inbox.c.attempts + 1,
            failures=x_inbox.c.failures + int(counted),
            next_attempt_at=time.time() + delay,
        )

    def set_aside(self, item: InboxItem, error: str) -> None:
        """Stop trying: the row keeps its redacted event and the error, for a person to look at."""
        self._finish(
            item,
            status=FAILED,
            error=error,
            attempts=x_inbox.c.attempts + 1,
            failures=x_inbox.c.failures + 1,
            finished_at=utcnow(),
        )

    def next_due(self) -> float | None:
        """When the next event can be claimed (epoch seconds): its retry is due and no live claim holds it."""
        ready_at = case(
            (x_inbox.c.claimed_until > x_inbox.c.next_attempt_at, x_inbox.c.claimed_until),
            else_=x_inbox.c.next_attempt_at,
        )
        with self._engine.connect() as conn:
            value = conn.execute(
                select(func.min(ready_at)).where(x_inbox.c.status == PENDING, _first_in_line())
            ).scalar()
        return float(value) if value is not None else None

    def _finish(self, item: InboxItem, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(x_inbox)
                .where(x_inbox.c.kind == item.kind, x_inbox.c.event_id == item.event_id)
                .values(claimed_until=None, **values)
            )

    def _insert_new(self, rows: dict[tuple[str, str], dict[str, Any]]) -> int:
        ids = {event_id for _kind, event_id in rows}
        with self._engine.begin() as conn:
            found = conn.execute(select(x_inbox.c.kind, x_inbox.c.event_id).where(x_inbox.c.event_id.in_(ids)))
            stored = {(kind, event_id) for kind, event_id in found}
            new = [row for key, row in rows.items() if key not in stored]
            if new:
                conn.execute(insert(x_inbox), new)
        return len(new)


def _first_in_line() -> Any:
    """No earlier event of the same user is still pending: a user's events are handled in order."""
    earlier = x_inbox.alias("earlier")
    return ~(
        select(earlier.c.event_id)
        .where(
            earlier.c.user_id == x_inbox.c.user_id,
            earlier.c.sort_key < x_inbox.c.sort_key,
            earlier.c.status == PENDING,
        )
        .exists()
    )


def _kind(event: Event) -> str:
    return MENTION if isinstance(event, Mention) else DM


def _row(event: Event) -> dict[str, Any]:
    """The row for a new event; a bare 64-hex string stays for the gate, which knows if it is a txid.

    Half a UTF-16 pair standing alone, in the text or a user name, becomes U+FFFD first: the
    UTF-8 store refuses it, and X's delivery, every event in it, was answered 503 each time.
    """
    fields = valid_strings(asdict(event))
    redaction = redact(fields["text"], txid_expected=True)
    payload = {**fields, "text": redaction.text}
    return {
        "kind": _kind(event),
        "event_id": event.id,
        "user_id": event.author_id if isinstance(event, Mention) else event.sender_id,
        "sort_key": event.id.zfill(ID_DIGITS),
        "payload": {**payload, "redacted": [k for k in redaction.kinds if k != UNLABELLED_HEX]},
        "status": PENDING,
        "attempts": 0,
        "failures": 0,
        "next_attempt_at": 0.0,
        "created_at": utcnow(),
    }


def _item(row: Any) -> InboxItem:
    fields = dict(row.payload)
    redacted = tuple(fields.pop("redacted", ()))
    event: Event
    if row.kind == MENTION:
        referenced = tuple((str(kind), str(ref)) for kind, ref in fields.pop("referenced", ()))
        event = Mention(**fields, referenced=referenced)
    else:
        event = DmEvent(**fields)
    return InboxItem(kind=row.kind, event=event, redacted=redacted, attempts=row.attempts, failures=row.failures)
