"""Erase one customer everywhere: cases and all that hangs off them, channel rows, REST ids, Rasa's tracker.

A customer is named by their conversation key, the Rasa sender id: ``tg:<chat>:<user>``
(one Telegram conversation) or ``tg:<user>`` (every conversation of that Telegram user,
private chat and groups), ``x:<user id>``, ``rest:<conversation id>``. Everything goes in
one transaction; attachment files are removed once it has committed. The audit line that
records the erasure names the customer only by a salted hash (``bot.lifecycle.salt``).
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, cast, delete, or_, select, tuple_
from sqlalchemy.engine import Connection, Engine

from bot.cases.audit import audit_log
from bot.cases.customer_links import LINK, UNLINK, customer_handle, customer_links
from bot.cases.deliveries import alert_messages, deliveries
from bot.cases.escalations import case_flags
from bot.cases.schema import attachments, case_messages, cases, outbox
from bot.cases.store import utcnow
from bot.lifecycle.files import attachment_files, remove_files
from bot.lifecycle.salt import customer_hash
from bot.lifecycle.tracker import has_tracker, tracker_events
from bot.migrations.runner import ensure_schema
from connectors.rest.conversations import PREFIX as REST_PREFIX
from connectors.rest.conversations import rest_conversations
from connectors.rest.mailbox import rest_mailbox
from connectors.telegram.storage import telegram_replies, telegram_updates
from connectors.twitter.identity import SENDER_PREFIX as X_PREFIX
from connectors.twitter.inbox import x_inbox
from connectors.twitter.state import THREAD, x_choices, x_processed

logger = logging.getLogger(__name__)

TELEGRAM_PREFIX = "tg:"
ERASED = "customer_erased"  # the audit action
_TELEGRAM = re.compile(r"tg:(?:(-?\d+):)?(\d+)")
_X = re.compile(r"x:(\d+)")
_REST = re.compile(r"rest:([A-Za-z0-9_-]+)")
USAGE = "tg:<chat>:<user>, tg:<user>, x:<user id> or rest:<conversation id>"


class UnknownCustomer(ValueError):
    """Not a conversation key of any channel."""


class NothingStored(LookupError):
    """A well-formed key no row belongs to: most likely a mistyped key, so nothing is audited."""


def check_customer_key(customer: str) -> None:
    """Refuse a key of no channel before anything else happens (no salt is made for it)."""
    if not any(p.fullmatch(customer) for p in (_TELEGRAM, _X, _REST)):
        raise UnknownCustomer(f"{customer!r} is not a customer key ({USAGE})")


@dataclass(frozen=True)
class Erasure:
    """What was removed, by table: counts only, never the customer."""

    customer_hash: str
    counts: dict[str, int]
    files: int
    wal_cleared: bool | None = None  # SQLite: whether the write-ahead log holding the old rows was emptied


def erase_customer(engine: Engine, customer: str, salt: str, *, actor: str | None = None) -> Erasure:
    """Remove every row of ``customer`` and their attachment files; audit it under a salted hash."""
    check_customer_key(customer)
    ensure_schema(engine)
    counts: dict[str, int] = {}
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left readable
        keys = _conversation_keys(conn, customer)
        case_ids = list(conn.execute(select(cases.c.id).where(cases.c.sender_id.in_(keys))).scalars())
        files = attachment_files(conn, attachments.c.case_id.in_(case_ids))
        lines = conn.execute(select(case_messages.c.id).where(case_messages.c.case_id.in_(case_ids))).scalars()
        line_ids = [str(i) for i in lines]  # an agent's Telegram reply names its transcript line
        if customer.startswith(TELEGRAM_PREFIX):
            _erase_telegram(conn, keys, line_ids, counts)
        elif customer.startswith(X_PREFIX):
            _erase_x(conn, customer, counts)
        else:
            _erase_rest(conn, customer, counts)
        for table, column in (
            (deliveries, deliveries.c.case_id),
            (alert_messages, alert_messages.c.case_id),
            (case_flags, case_flags.c.case_id),
            (audit_log, audit_log.c.case_id),
            (outbox, outbox.c.case_id),
            (attachments, attachments.c.case_id),
            (case_messages, case_messages.c.case_id),
            (cases, cases.c.id),
        ):
            counts[table.name] = conn.execute(delete(table).where(column.in_(case_ids))).rowcount
        _erase_links(conn, customer, counts)
        if has_tracker(conn):
            counts[tracker_events.name] = conn.execute(
                delete(tracker_events).where(tracker_events.c.sender_id.in_(keys))
            ).rowcount
        if not any(counts.values()):  # the transaction ends with nothing changed
            raise NothingStored(f"nothing is stored for {customer!r}: check the key ({USAGE})")
        hashed = customer_hash(salt, customer)
        conn.execute(
            audit_log.insert().values(
                at=utcnow(),
                actor=actor or getpass.getuser(),
                via="admin",
                action=ERASED,
                case_id=None,
                allowed=True,
                detail={"customer_hash": hashed, "rows": counts},
            )
        )
    removed = remove_files(files)
    wal_cleared = _empty_the_wal(engine) if sqlite else None
    logger.info("erased customer %s: %s rows, %d files", hashed[:12], sum(counts.values()), removed)
    return Erasure(hashed, counts, removed, wal_cleared)


def _empty_the_wal(engine: Engine) -> bool:
    """Copy the write-ahead log into the (zeroed) pages and truncate it: the old rows live on there until then.

    False when a reader of another process held it back: the next checkpoint clears it.
    """
    with engine.connect() as conn:
        busy, _log, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        logger.warning("the SQLite write-ahead log was not emptied (a reader held it); the next checkpoint will")
    return not busy


def _conversation_keys(conn: Connection, customer: str) -> list[str]:
    """The sender ids ``customer`` stands for: ``tg:<user>`` widens to each chat the user wrote from."""
    match = _TELEGRAM.fullmatch(customer)
    if match is None or match.group(1) is not None:
        return [customer]
    user = match.group(2)
    pattern = f"{TELEGRAM_PREFIX}%:{user}"
    keys = {f"{TELEGRAM_PREFIX}{user}:{user}"}  # the private chat
    keys.update(conn.execute(select(cases.c.sender_id).where(cases.c.sender_id.like(pattern))).scalars())
    if has_tracker(conn):
        keys.update(
            conn.execute(select(tracker_events.c.sender_id).where(tracker_events.c.sender_id.like(pattern))).scalars()
        )
    return sorted(k for k in keys if _TELEGRAM.fullmatch(k) and k.rsplit(":", 1)[1] == user)


def _erase_links(conn: Connection, customer: str, counts: dict[str, int]) -> None:
    """The links agents made to the customer's identity, and the audit lines of those links that name it."""
    handle = customer_handle("telegram" if customer.startswith(TELEGRAM_PREFIX) else "", customer)
    t = customer_links.c
    counts[customer_links.name] = conn.execute(
        delete(customer_links).where(or_(t.first == handle, t.second == handle))
    ).rowcount
    quoted = '%"' + handle.replace("_", "\\_") + '"%'  # as the JSON detail holds it
    counts[audit_log.name] += conn.execute(
        delete(audit_log).where(
            audit_log.c.action.in_((LINK, UNLINK)), cast(audit_log.c.detail, Text).like(quoted, escape="\\")
        )
    ).rowcount


def _erase_telegram(conn: Connection, keys: Iterable[str], line_ids: Collection[str], counts: dict[str, int]) -> None:
    """Updates and replies of the customer's private chat; in a group, only their updates and the replies to them."""
    update_ids: list[int] = []
    private_chats: list[int] = []
    for key in keys:
        _, chat, user = key.split(":")
        if chat == user:
            private_chats.append(int(chat))
            update_ids += conn.execute(
                select(telegram_updates.c.update_id).where(telegram_updates.c.chat_key == chat)
            ).scalars()
            continue
        rows = conn.execute(
            select(telegram_updates.c.update_id, telegram_updates.c.payload).where(telegram_updates.c.chat_key == chat)
        ).all()
        update_ids += [r.update_id for r in rows if _sent_by(r.payload, int(user))]
    counts[telegram_replies.name] = conn.execute(
        delete(telegram_replies).where(
            or_(
                telegram_replies.c.chat_id.in_(private_chats),
                telegram_replies.c.update_id.in_(update_ids),
                telegram_replies.c.reference.in_(line_ids),
            )
        )
    ).rowcount
    counts[telegram_updates.name] = conn.execute(
        delete(telegram_updates).where(telegram_updates.c.update_id.in_(update_ids))
    ).rowcount


def _sent_by(payload: Any, user: int) -> bool:
    """Whether a stored group update came from ``user`` (a finished one has no payload left, nor anything of theirs)."""
    if not isinstance(payload, dict):
        return False
    for part in payload.values():
        if isinstance(part, dict) and isinstance(part.get("from"), dict) and part["from"].get("id") == user:
            return True
    return False


def _erase_x(conn: Connection, customer: str, counts: dict[str, int]) -> None:
    """The user's stored events, the ids marked handled for them, and the choices offered to them."""
    user = customer.removeprefix(X_PREFIX)
    events = conn.execute(select(x_inbox.c.kind, x_inbox.c.event_id).where(x_inbox.c.user_id == user)).all()
    handled = [(e.kind, e.event_id) for e in events]
    counts[x_processed.name] = conn.execute(
        delete(x_processed).where(
            or_(
                tuple_(x_processed.c.kind, x_processed.c.event_id).in_(handled) if handled else False,
                and_(x_processed.c.kind == THREAD, x_processed.c.event_id.like(f"%:{user}")),
            )
        )
    ).rowcount
    counts[x_inbox.name] = conn.execute(delete(x_inbox).where(x_inbox.c.user_id == user)).rowcount
    counts[x_choices.name] = conn.execute(delete(x_choices).where(x_choices.c.sender_id == customer)).rowcount


def _erase_rest(conn: Connection, customer: str, counts: dict[str, int]) -> None:
    """The messages waiting for the customer and the conversation id (its secret's hash with it)."""
    counts[rest_mailbox.name] = conn.execute(delete(rest_mailbox).where(rest_mailbox.c.sender_id == customer)).rowcount
    counts[rest_conversations.name] = conn.execute(
        delete(rest_conversations).where(rest_conversations.c.id == customer.removeprefix(REST_PREFIX))
    ).rowcount
