"""Which channel identities an agent said are one person, and that person's cases on every channel.

An identity is a channel's stable handle (``customer_handle``): ``tg:<user id>``, ``x:<user id>``,
the REST sender key. Display names and what a customer writes ("I'm @bob on X") never link
anything: only an agent does, on the desk. A person is every identity reachable through links
(A-B and B-C make A, B and C one customer), so one unlink can split them again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, UniqueConstraint, delete, insert, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.schema import UtcDateTime, cases
from bot.cases.store import Case, utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()
HANDLE_LENGTH = 128  # as ``cases.sender_id``
HANDLE = re.compile(r"tg:\d{1,20}|x:\d{1,20}|rest:[A-Za-z0-9_-]{1,100}")
_TELEGRAM_KEY = re.compile(r"tg:(?:-?\d+:)?(\d+)")
HISTORY_LIMIT = 50
LINK, UNLINK = "link_customer", "unlink_customer"  # the audit actions; their detail names both identities

customer_links = Table(
    "customer_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("first", String(HANDLE_LENGTH), nullable=False),  # the pair in sorted order: one row per link
    Column("second", String(HANDLE_LENGTH), nullable=False),
    Column("linked_by", String(64), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False),
    UniqueConstraint("first", "second", name="uq_customer_links_pair"),
    Index("ix_customer_links_second", "second"),
)


@dataclass(frozen=True)
class Link:
    first: str
    second: str
    linked_by: str
    linked_at: datetime


def customer_handle(channel: str, sender_id: str) -> str:
    """``tg:<user id>`` for any Telegram conversation of the user (private or group), else the sender id."""
    match = _TELEGRAM_KEY.fullmatch(sender_id) if channel == "telegram" else None
    return f"tg:{match.group(1)}" if match else sender_id


def handle_of(case: Case) -> str:
    return customer_handle(case.channel, case.sender_id)


def is_handle(text: str) -> bool:
    return HANDLE.fullmatch(text) is not None


def cases_of(handle: str) -> ColumnElement[bool]:
    """The cases of one identity: a Telegram user's in each chat they wrote from, else the sender's."""
    if handle.startswith("tg:") and handle[3:].isdigit():
        user = handle[3:]
        in_any_chat = or_(cases.c.sender_id == handle, cases.c.sender_id.like(f"tg:%:{user}"))
        return (cases.c.channel == "telegram") & in_any_chat
    return cases.c.sender_id == handle


class CustomerLinks:
    """Links between identities, made and removed by agents; the history they open."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def link(self, handle: str, other: str, by: str) -> bool:
        """Record that ``handle`` and ``other`` are one person; False when they already were linked directly."""
        if handle == other:
            raise ValueError("an identity is not linked to itself")
        first, second = sorted((handle, other))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(customer_links).values(first=first, second=second, linked_by=by, linked_at=utcnow())
                )
        except IntegrityError:
            return False
        return True

    def unlink(self, handle: str, other: str) -> bool:
        """Remove the direct link between the two; False when there was none."""
        first, second = sorted((handle, other))
        with self._engine.begin() as conn:
            t = customer_links.c
            return bool(conn.execute(delete(customer_links).where(t.first == first, t.second == second)).rowcount)

    def links(self, handle: str) -> list[Link]:
        """Every link among the identities of ``handle``'s person, oldest first."""
        handles = self.person(handle)
        t = customer_links.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(customer_links).where(t.first.in_(handles)).order_by(t.id)).all()
        return [Link(r.first, r.second, r.linked_by, r.linked_at) for r in rows]

    def person(self, handle: str) -> list[str]:
        """``handle`` and every identity linked to it, directly or through others, sorted."""
        found, frontier = {handle}, {handle}
        t = customer_links.c
        with self._engine.connect() as conn:
            while frontier:
                rows = conn.execute(
                    select(t.first, t.second).where(or_(t.first.in_(frontier), t.second.in_(frontier)))
                ).all()
                linked = {h for r in rows for h in (r.first, r.second)}
                frontier = linked - found
                found |= linked
        return sorted(found)

    def has_cases(self, handle: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(cases.c.id).where(cases_of(handle)).limit(1)).first() is not None

    def history(self, handle: str, *, without: str | None = None, limit: int = HISTORY_LIMIT) -> list[Case]:
        """The person's cases on every linked identity, newest first (``without``: the case being looked at)."""
        condition = or_(*(cases_of(h) for h in self.person(handle)))
        if without is not None:
            condition = condition & (cases.c.id != without)
        with self._engine.connect() as conn:
            rows = conn.execute(select(cases).where(condition).order_by(cases.c.created_at.desc()).limit(limit)).all()
        return [Case.from_row(r) for r in rows]
