"""The agents (one identity for the desk and the agents' Telegram group), who is on duty, and desk sessions.

An agent is on duty while signed in on the desk or after ``/onduty`` in the agents'
group, until they sign out, send ``/offduty`` or stay idle longer than the configured
time. Cases are only ever announced to, and assigned by, agents on duty.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from bot.cases.schema import UtcDateTime
from bot.migrations.runner import ensure_schema

metadata = MetaData()

# Each agent once: the desk login, and optionally the Telegram user id (the number: a username
# can change) the agent acts with in the agents' group. ``bot.cases.agent_directory`` reads and writes it.
agents = Table(
    "agents",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # agent or admin (manages agents in the desk)
    Column("telegram_user_id", BigInteger),
    Column("active", Boolean, nullable=False),  # a removed agent is kept, inactive, for the audit trail
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("telegram_user_id", name="uq_agents_telegram_user_id"),
)

# The teams each agent works in (one or more); names as in the desk's teams file.
agent_teams = Table(
    "agent_teams",
    metadata,
    Column("agent", String(64), primary_key=True),
    Column("team", String(32), primary_key=True),
)

duty = Table(
    "agent_duty",
    metadata,
    Column("agent", String(64), primary_key=True),
    Column("via", String(16), nullable=False),
    Column("telegram_user_id", BigInteger),
    Column("on_since", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("active_until", UtcDateTime, nullable=False),
)

desk_sessions = Table(
    "desk_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent", String(64), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class OnDuty:
    agent: str
    via: str
    telegram_user_id: int | None
    last_seen: datetime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def on_duty_count(conn: Connection) -> int:
    """Agents on duty now, for the customer's queue information; 0 before the desk ever ran."""
    if not inspect(conn).has_table(duty.name):
        return 0
    return int(conn.execute(select(func.count()).select_from(duty).where(duty.c.active_until >= utcnow())).scalar_one())


class DutyRoster:
    """On/off duty with an idle timeout, shared by the desk page and the agents' group."""

    def __init__(self, engine: Engine, *, idle_minutes: float) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._idle = timedelta(minutes=idle_minutes)

    def on_duty(self, agent: str, *, via: str, telegram_user_id: int | None = None) -> None:
        now = utcnow()
        with self._engine.begin() as conn:
            row = conn.execute(select(duty.c.agent).where(duty.c.agent == agent)).first()
            if row is None:
                conn.execute(
                    insert(duty).values(
                        agent=agent,
                        via=via,
                        telegram_user_id=telegram_user_id,
                        on_since=now,
                        last_seen=now,
                        active_until=now + self._idle,
                    )
                )
            else:
                values = {"via": via, "last_seen": now, "active_until": now + self._idle}
                if telegram_user_id is not None:
                    values["telegram_user_id"] = telegram_user_id
                conn.execute(update(duty).where(duty.c.agent == agent).values(**values))

    def touch(self, agent: str) -> None:
        """Any action keeps an on-duty agent from going idle."""
        with self._engine.begin() as conn:
            now = utcnow()
            conn.execute(update(duty).where(duty.c.agent == agent).values(last_seen=now, active_until=now + self._idle))

    def off_duty(self, agent: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(duty).where(duty.c.agent == agent))

    def current(self) -> list[OnDuty]:
        """Agents on duty now (idle ones are not), with the Telegram id an agent has linked, wherever they came on."""
        telegram_id = func.coalesce(duty.c.telegram_user_id, agents.c.telegram_user_id).label("telegram_user_id")
        query = (
            select(duty.c.agent, duty.c.via, duty.c.last_seen, telegram_id)
            .select_from(duty.outerjoin(agents, agents.c.name == duty.c.agent))
            .where(duty.c.active_until >= utcnow())
            .order_by(duty.c.agent)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [OnDuty(r.agent, r.via, r.telegram_user_id, r.last_seen) for r in rows]


class DeskSessions:
    """Opaque session tokens; only their SHA-256 is stored, so a database leak signs nobody in.

    A session ends when idle too long and, however busy, when it reaches its lifetime: a
    stolen cookie does not work forever.
    """

    def __init__(self, engine: Engine, *, idle_minutes: float, max_hours: float) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._idle = timedelta(minutes=idle_minutes)
        self._lifetime = timedelta(hours=max_hours)

    def start(self, agent: str) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(
                insert(desk_sessions).values(token_hash=session_key(token), agent=agent, created_at=now, last_seen=now)
            )
        return token

    def agent_for(self, token: str) -> str | None:
        """The signed-in agent, refreshing the session; None when unknown, idle too long or too old."""
        now = utcnow()
        with self._engine.begin() as conn:
            row = conn.execute(select(desk_sessions).where(desk_sessions.c.token_hash == session_key(token))).first()
            if row is None:
                return None
            if row.last_seen < now - self._idle or row.created_at < now - self._lifetime:
                conn.execute(delete(desk_sessions).where(desk_sessions.c.token_hash == row.token_hash))
                return None
            conn.execute(
                update(desk_sessions).where(desk_sessions.c.token_hash == row.token_hash).values(last_seen=now)
            )
            return str(row.agent)

    def active(self, keys: Collection[str]) -> set[str]:
        """Which of these session keys are still signed in, without counting the question as activity."""
        now = utcnow()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(desk_sessions.c.token_hash).where(
                    desk_sessions.c.token_hash.in_(keys),
                    desk_sessions.c.last_seen >= now - self._idle,
                    desk_sessions.c.created_at >= now - self._lifetime,
                )
            ).all()
        return {row.token_hash for row in rows}

    def end_all(self, agent: str) -> None:
        """Sign ``agent`` out everywhere (password changed, agent removed): no old cookie works again."""
        with self._engine.begin() as conn:
            conn.execute(delete(desk_sessions).where(desk_sessions.c.agent == agent))

    def end(self, token: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(desk_sessions).where(desk_sessions.c.token_hash == session_key(token)))


def session_key(token: str) -> str:
    """What is stored of a session token, and what names the session elsewhere."""
    return hashlib.sha256(token.encode()).hexdigest()
