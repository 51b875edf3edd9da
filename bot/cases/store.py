"""The case store: open and update cases, keep their transcript, queue and ownership.

Every change an agent must hear about writes an outbox row in the same transaction, so an
alert can be delayed by a failure but never lost.
"""

from __future__ import annotations

import re
import secrets
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.cases.agents import on_duty_count
from bot.cases.schema import attachments, case_messages, cases, outbox
from bot.language import DEFAULT_LANGUAGE, known
from bot.metrics import cases as case_metrics
from bot.migrations.runner import ensure_schema

OPEN, CLAIMED, RESOLVED, CANCELLED = "open", "claimed", "resolved", "cancelled"
ACTIVE_STATUSES = (OPEN, CLAIMED)
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread
_CASE_ID = re.compile(f"CX-[{_ID_ALPHABET}]{{6}}")


def new_case_id() -> str:
    """A short id a customer can read out or type: ``CX-7K3M9Q``."""
    return "CX-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Asked on every turn of a conversation: built once (a built statement's cache key is memoized).
_CUSTOMER = (cases.c.channel == bindparam("b_channel")) & (cases.c.sender_id == bindparam("b_sender_id"))
_LATEST_CASE = select(cases).where(_CUSTOMER).order_by(cases.c.created_at.desc()).limit(1)
_ACTIVE_CASE = _LATEST_CASE.where(cases.c.status.in_(ACTIVE_STATUSES))
_CASE_STATUS = select(cases.c.status).where(cases.c.id == bindparam("b_case_id"))
_ADD_LINE = insert(case_messages)
_KEYED_LINE = select(case_messages.c.id).where(
    (case_messages.c.case_id == bindparam("b_case_id")) & (case_messages.c.line_key == bindparam("b_key"))
)
RATING_CHOICES = ("1", "2", "3", "4", "5")  # what a customer answers the rating request with (typed or a button)


@dataclass(frozen=True)
class TranscriptLine:
    """One message of a conversation as the case keeps it (already redacted)."""

    role: str  # customer, bot, agent, note, system
    text: str
    author: str | None = None
    at: datetime = field(default_factory=utcnow)
    id: int | None = field(default=None, compare=False)  # set once stored
    # Names the line within its case (a message id, a reply of its turn): a turn run again records it once.
    key: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Case:
    id: str
    intent: str
    priority: int
    status: str
    channel: str
    sender_id: str
    summary: str
    details: dict[str, Any]
    assignee: str | None
    rating: int | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    language: str = DEFAULT_LANGUAGE
    team: str | None = None  # set by a transfer; otherwise the desk's routes decide
    rated_at: datetime | None = None
    rating_comment: str | None = None  # NULL: not answered yet; "": skipped or passed over
    opened_by_message: str | None = None  # the customer message whose turn opened it

    @classmethod
    def from_row(cls, row: Row) -> Case:
        return cls(**dict(row._mapping))


@dataclass(frozen=True)
class QueueInfo:
    """Where a waiting case stands: what the customer is told."""

    place: int
    estimated_wait_minutes: int
    agents_on_duty: int


class CaseNotFound(LookupError):
    """No case with that id."""


class CaseStore:
    """All reads and writes of cases, through one engine."""

    def __init__(self, engine: Engine, *, default_wait_minutes: int = 15) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._default_wait = default_wait_minutes

    @property
    def engine(self) -> Engine:
        return self._engine

    def open_case(
        self,
        *,
        intent: str,
        priority: int,
        channel: str,
        sender_id: str,
        summary: str,
        details: Mapping[str, Any],
        transcript: Iterable[TranscriptLine] = (),
        language: str = DEFAULT_LANGUAGE,
        opened_by_message: str | None = None,
    ) -> Case:
        """Create a case with its transcript and enqueue the ``case_opened`` alert.

        ``opened_by_message``: the id of the customer message whose turn opens it. The same
        turn run again (a crash, a timeout, a failed action call) gets that case back,
        neither a second case nor a second alert. Of transcript lines sharing a key, the first is kept.
        """
        lines = _once_per_key(transcript)
        for _ in range(5):
            case_id = new_case_id()
            now = utcnow()
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(cases).values(
                            id=case_id,
                            intent=intent,
                            priority=priority,
                            status=OPEN,
                            channel=channel,
                            sender_id=sender_id,
                            summary=summary,
                            details=dict(details),
                            language=known(language),
                            opened_by_message=opened_by_message,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    if lines:
                        conn.execute(insert(case_messages), [_message_row(case_id, line) for line in lines])
                    _enqueue(conn, "case_opened", case_id, {"priority": priority, "intent": intent})
            except IntegrityError:
                if opened_by_message is not None:
                    earlier = self._opened_by(channel, sender_id, opened_by_message)
                    if earlier is not None:
                        return earlier  # an earlier try of the same turn opened it (the unique index says so)
                continue  # id collision: draw another
            case_metrics.escalated(priority)
            return self.get(case_id)
        raise RuntimeError("could not allocate a case id")

    def _opened_by(self, channel: str, sender_id: str, message_id: str) -> Case | None:
        """The case this customer message's turn opened, if it did."""
        query = select(cases).where(
            cases.c.channel == channel, cases.c.sender_id == sender_id, cases.c.opened_by_message == message_id
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return Case.from_row(row) if row else None

    @staticmethod
    def is_case_id(text: str) -> bool:
        """True when ``text`` has the shape of a case id (any case), so it may be stored as one."""
        return _CASE_ID.fullmatch(text.upper()) is not None

    def get(self, case_id: str) -> Case:
        """The case; an id that no case can have (typed, pasted, hostile) is not looked up at all."""
        wanted = case_id.upper()
        if not _CASE_ID.fullmatch(wanted):
            raise CaseNotFound(case_id)
        with self._engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.id == wanted)).first()
        if row is None:
            raise CaseNotFound(case_id)
        return Case.from_row(row)

    def get_many(self, case_ids: Iterable[str]) -> dict[str, Case]:
        """The cases of these ids that exist, in one query (a digest names hundreds)."""
        wanted = {case_id.upper() for case_id in case_ids if _CASE_ID.fullmatch(case_id.upper())}
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(cases).where(cases.c.id.in_(sorted(wanted)))).all()
        return {row.id: Case.from_row(row) for row in rows}

    def find(self, case_id: str) -> Case | None:
        try:
            return self.get(case_id)
        except CaseNotFound:
            return None

    def active_case(self, channel: str, sender_id: str) -> Case | None:
        """The customer's open or claimed case on this channel, newest first."""
        with self._engine.connect() as conn:
            row = conn.execute(_ACTIVE_CASE, {"b_channel": channel, "b_sender_id": sender_id}).first()
        return Case.from_row(row) if row else None

    def latest_case(self, channel: str, sender_id: str) -> Case | None:
        """The customer's newest case in any status (for ``/status`` after resolution)."""
        with self._engine.connect() as conn:
            row = conn.execute(_LATEST_CASE, {"b_channel": channel, "b_sender_id": sender_id}).first()
        return Case.from_row(row) if row else None

    def human_owns(self, channel: str, sender_id: str) -> Case | None:
        """The claimed case if an agent owns this conversation, so the bot stays quiet."""
        case = self.active_case(channel, sender_id)
        return case if case is not None and case.status == CLAIMED else None

    def add_details(self, case_id: str, details: Mapping[str, Any]) -> Case:
        """Merge details collected after the case was opened and tell the agents."""
        fresh = {k: v for k, v in details.items() if v not in (None, "")}
        with self._engine.begin() as conn:
            row = conn.execute(select(cases.c.details).where(cases.c.id == case_id)).first()
            if row is None:
                raise CaseNotFound(case_id)
            merged = {**(row.details or {}), **fresh}
            conn.execute(update(cases).where(cases.c.id == case_id).values(details=merged, updated_at=utcnow()))
            if fresh:
                _enqueue(conn, "case_updated", case_id, {"details": fresh})
        return self.get(case_id)

    def keyed_line(self, case_id: str, key: str) -> int | None:
        """The id of the case's line recorded under ``key``, if there is one."""
        with self._engine.connect() as conn:
            found = conn.execute(_KEYED_LINE, {"b_case_id": case_id, "b_key": key}).scalar()
        return None if found is None else int(found)

    def record_message(
        self, case_id: str, line: TranscriptLine, *, with_line: Callable[[Connection, int], None] | None = None
    ) -> int:
        """Append to the transcript and return the line's id; a customer message to a claimed case is forwarded.

        ``with_line(conn, line_id)`` writes, in the same transaction, what must exist exactly
        when the line does (the row that delivers it, on a channel that delivers later).
        A line whose ``key`` the case already holds is not added again, nor forwarded again:
        its id is returned (a turn run again after a crash or a failed call says it twice).
        """
        try:
            with self._engine.begin() as conn:
                status = conn.execute(_CASE_STATUS, {"b_case_id": case_id}).scalar()
                if status is None:
                    raise CaseNotFound(case_id)
                inserted = conn.execute(_ADD_LINE, _message_row(case_id, line))
                line_id = int(inserted.inserted_primary_key[0])
                if line.role == "customer" and status == CLAIMED:
                    _enqueue(conn, "customer_message", case_id, {"text": line.text})
                if with_line is not None:
                    with_line(conn, line_id)
        except IntegrityError:
            if line.key is None:
                raise
            kept = self.keyed_line(case_id, line.key)
            if kept is None:
                raise
            return kept
        return line_id

    def agent_has_written(self, case_id: str) -> bool:
        """True once an agent has written to the customer on this case (the first reply is measured)."""
        with self._engine.connect() as conn:
            return bool(
                conn.execute(
                    select(exists().where(case_messages.c.case_id == case_id, case_messages.c.role == "agent"))
                ).scalar()
            )

    def transcript(self, case_id: str) -> list[TranscriptLine]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(case_messages).where(case_messages.c.case_id == case_id).order_by(case_messages.c.id)
            ).all()
        return [TranscriptLine(role=r.role, text=r.text, author=r.author, at=r.at, id=r.id) for r in rows]

    def add_attachment(
        self,
        case_id: str,
        *,
        kind: str,
        name: str,
        mime_type: str,
        size: int,
        platform_file_id: str | None = None,
        stored_path: str | None = None,
    ) -> int:
        """Attach a file's metadata to the case and tell the agents."""
        with self._engine.begin() as conn:
            result = conn.execute(
                insert(attachments).values(
                    case_id=case_id,
                    at=utcnow(),
                    kind=kind,
                    name=name,
                    mime_type=mime_type,
                    size=size,
                    platform_file_id=platform_file_id,
                    stored_path=stored_path,
                )
            )
            attachment_id = int(result.inserted_primary_key[0])
            _enqueue(conn, "attachment_added", case_id, {"attachment_id": attachment_id, "name": name})
        return attachment_id

    def attachments(self, case_id: str) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(attachments).where(attachments.c.case_id == case_id).order_by(attachments.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def claim(self, case_id: str, agent: str) -> bool:
        """Give the case to ``agent``; False if someone else already holds it or it is closed."""
        now = utcnow()
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.status == OPEN)
                .values(
                    status=CLAIMED,
                    assignee=agent,
                    claimed_at=func.coalesce(cases.c.claimed_at, now),
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, "case_claimed", case_id, {"agent": agent})
        return True

    def take_over(self, case_id: str, *, owner: str, agent: str) -> bool:
        """An admin gives ``agent`` the case ``owner`` holds; False when it is no longer theirs."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.status == CLAIMED, cases.c.assignee == owner)
                .values(assignee=agent, updated_at=utcnow())
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, "case_claimed", case_id, {"agent": agent, "from": owner})
        return True

    def claimed_by(self, agent: str) -> list[str]:
        """The ids of the cases ``agent`` holds now."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(cases.c.id).where(cases.c.status == CLAIMED, cases.c.assignee == agent).order_by(cases.c.id)
            ).all()
        return [row.id for row in rows]

    def release(self, case_id: str) -> bool:
        """Hand the conversation back to the bot; the case stays open for another agent."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.status == CLAIMED)
                .values(status=OPEN, assignee=None, updated_at=utcnow())
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, "case_released", case_id, {})
        return True

    def reopen(self, case_id: str, agent: str) -> bool:
        """A resolved or cancelled case waits in the queue again; False when it is not closed."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.status.in_((RESOLVED, CANCELLED)))
                .values(status=OPEN, assignee=None, resolved_at=None, updated_at=utcnow())
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, "case_reopened", case_id, {"agent": agent})
        return True

    def transfer(self, case_id: str, *, by: str, team: str | None, agent: str | None) -> bool:
        """Give the case to ``team`` and/or ``agent``: to an agent it is theirs, to a team alone it waits for one.

        False when the case is closed.
        """
        now = utcnow()
        values: dict[str, Any] = {"updated_at": now}
        if team is not None:
            values["team"] = team
        if agent is not None:
            values.update(status=CLAIMED, assignee=agent, claimed_at=func.coalesce(cases.c.claimed_at, now))
        else:
            values.update(status=OPEN, assignee=None)
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases).where(cases.c.id == case_id, cases.c.status.in_(ACTIVE_STATUSES)).values(**values)
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, "case_transferred", case_id, {"by": by, "team": team, "agent": agent})
        return True

    def resolve(self, case_id: str, agent: str) -> bool:
        """Close the case; the bot resumes the conversation."""
        return self._close(case_id, RESOLVED, "case_resolved", {"agent": agent})

    def cancel(self, case_id: str) -> bool:
        """The customer withdrew the request before an agent took it."""
        return self._close(case_id, CANCELLED, "case_cancelled", {}, only_from=(OPEN,))

    def set_language(self, case_id: str, language: str) -> None:
        """The customer now writes (or chose) ``language``: later notices to them use it."""
        with self._engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.id == case_id).values(language=known(language)))

    def set_priority(self, case_id: str, priority: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.id == case_id).values(priority=priority, updated_at=utcnow()))
            _enqueue(conn, "case_updated", case_id, {"priority": priority})

    def rate(self, case_id: str, rating: int, line: TranscriptLine | None = None) -> None:
        """Keep the customer's 1-5 answer; its time starts the short window for a comment.

        ``line``, the customer's message, joins the transcript in the same transaction: keyed,
        it tells a try of the same message run again that the rating is its own (``holds_line``).
        """
        if not 1 <= rating <= 5:
            raise ValueError("rating must be 1 to 5")
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.id == case_id).values(rating=rating, rated_at=now, updated_at=now))
            if line is not None:
                conn.execute(_ADD_LINE, _message_row(case_id, line))

    def holds_line(self, case_id: str, key: str) -> bool:
        """True when the case's transcript has the line ``key`` names (``line_keys``)."""
        with self._engine.connect() as conn:
            return conn.execute(_KEYED_LINE, {"b_case_id": case_id, "b_key": key}).first() is not None

    def comment_on_rating(self, case_id: str, comment: str, line: TranscriptLine | None = None) -> bool:
        """Keep the customer's comment on their rating (``""``: they skipped it); only the first answer counts.

        False when the case is not rated or already has its answer (two messages racing).
        ``line``, the customer's message, joins the transcript with the comment, in one transaction.
        """
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.rating.is_not(None), cases.c.rating_comment.is_(None))
                .values(rating_comment=comment, updated_at=utcnow())
            )
            if result.rowcount == 1 and line is not None:
                conn.execute(_ADD_LINE, _message_row(case_id, line))
        return result.rowcount == 1

    def queue_info(self, case_id: str) -> QueueInfo:
        """Place = open cases of the same or higher priority ahead of it, plus itself.

        Wait = place x the median time-to-claim of the last 50 claimed cases, or the
        configured default while there is no history.
        """
        case = self.get(case_id)
        with self._engine.connect() as conn:
            on_duty = on_duty_count(conn)
            if case.status != OPEN:
                return QueueInfo(place=0, estimated_wait_minutes=0, agents_on_duty=on_duty)
            ahead = conn.execute(
                select(func.count())
                .select_from(cases)
                .where(
                    cases.c.status == OPEN,
                    cases.c.id != case.id,
                    or_(
                        cases.c.priority < case.priority,
                        and_(cases.c.priority == case.priority, cases.c.created_at <= case.created_at),
                    ),
                )
            ).scalar_one()
            recent = conn.execute(
                select(cases.c.created_at, cases.c.claimed_at)
                .where(cases.c.claimed_at.is_not(None))
                .order_by(cases.c.claimed_at.desc())
                .limit(50)
            ).all()
        place = int(ahead) + 1
        if recent:
            median = statistics.median((r.claimed_at - r.created_at).total_seconds() for r in recent)
            minutes_each = max(1, round(median / 60))
        else:
            minutes_each = self._default_wait
        return QueueInfo(place=place, estimated_wait_minutes=place * minutes_each, agents_on_duty=on_duty)

    def _close(
        self,
        case_id: str,
        status: str,
        event_name: str,
        payload: dict[str, Any],
        only_from: tuple[str, ...] = ACTIVE_STATUSES,
    ) -> bool:
        now = utcnow()
        with self._engine.begin() as conn:
            result = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.status.in_(only_from))
                .values(status=status, resolved_at=now, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            _enqueue(conn, event_name, case_id, payload)
        return True


def _once_per_key(lines: Iterable[TranscriptLine]) -> list[TranscriptLine]:
    """The first line of each key (a message id a tracker holds twice is still one line), unkeyed lines all."""
    seen: set[str] = set()
    kept = []
    for line in lines:
        if line.key is not None and line.key in seen:
            continue
        if line.key is not None:
            seen.add(line.key)
        kept.append(line)
    return kept


def _message_row(case_id: str, line: TranscriptLine) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "at": line.at,
        "role": line.role,
        "author": line.author,
        "text": line.text,
        "line_key": line.key,
    }


def _enqueue(conn: Connection, event_name: str, case_id: str, payload: dict[str, Any]) -> None:
    conn.execute(insert(outbox).values(event=event_name, case_id=case_id, payload=payload, created_at=utcnow()))
