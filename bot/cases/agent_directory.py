"""The agents: one identity each, whether they work from the desk or from the agents' Telegram group.

An agent signs in to the desk by name and may link a Telegram user id (the number, never
the username, which its owner can change); in the group, that id acts as the agent. The
table is seeded once, from ``DESK_AGENTS``, when the desk first starts on a database;
after that an admin manages agents in the desk. A removed agent is deactivated, not
deleted, so the audit trail keeps naming someone who existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from bot.cases.agents import agent_teams, agents, utcnow
from bot.cases.schema import cases
from bot.migrations.runner import ensure_schema

AGENT, ADMIN = "agent", "admin"
ROLES = (AGENT, ADMIN)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # no ':' or ',' (DESK_AGENTS), nothing to escape
TELEGRAM_PREFIX = "tg:"  # a Telegram user on the legacy allow-list who is linked to no agent


@dataclass(frozen=True)
class Agent:
    name: str
    role: str
    telegram_user_id: int | None
    active: bool
    teams: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


@dataclass(frozen=True)
class NewAgent:
    """An agent as ``DESK_AGENTS`` or an admin describes one."""

    name: str
    password_hash: str
    role: str = AGENT
    telegram_user_id: int | None = None


class AgentConflict(ValueError):
    """The change would break a rule of the table (name taken, Telegram id linked elsewhere, last admin)."""


class AgentDirectory:
    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def seed(self, seeds: Iterable[NewAgent]) -> bool:
        """Add ``seeds`` when the table is still empty (first start); False when agents existed already."""
        wanted = list(seeds)
        if not wanted:
            return False
        try:
            with self._engine.begin() as conn:
                if conn.execute(select(func.count()).select_from(agents)).scalar_one():
                    return False
                for seed in wanted:
                    self._insert(conn, seed)
        except IntegrityError:
            return False  # another desk process seeded it at the same moment
        return True

    def all(self) -> list[Agent]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(agents).order_by(agents.c.name)).all()
            teams = _teams(conn)
        return [_agent(r, teams.get(r.name, ())) for r in rows]

    def get(self, name: str) -> Agent | None:
        """The active agent named ``name``."""
        with self._engine.connect() as conn:
            row = conn.execute(select(agents).where(agents.c.name == name, agents.c.active.is_(True))).first()
            teams = _teams(conn, name)
        return _agent(row, teams.get(name, ())) if row else None

    def set_teams(self, name: str, teams: Iterable[str]) -> Agent:
        """The agent now works in exactly ``teams``."""
        wanted = sorted(set(teams))
        with self._engine.begin() as conn:
            if conn.execute(select(agents.c.name).where(agents.c.name == name)).first() is None:
                raise LookupError(name)
            conn.execute(delete(agent_teams).where(agent_teams.c.agent == name))
            if wanted:
                conn.execute(insert(agent_teams), [{"agent": name, "team": team} for team in wanted])
        found = self.get(name)
        if found is None:
            raise LookupError(name)
        return found

    def by_telegram(self, telegram_user_id: int) -> Agent | None:
        """The active agent who linked this Telegram user id."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(agents).where(agents.c.telegram_user_id == telegram_user_id, agents.c.active.is_(True))
            ).first()
            teams = _teams(conn, row.name) if row else {}
        return _agent(row, teams.get(row.name, ())) if row else None

    def telegram_ids(self) -> list[int]:
        """The Telegram user ids of active agents: who a P1 re-alert calls in the group."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(agents.c.telegram_user_id)
                .where(agents.c.telegram_user_id.is_not(None), agents.c.active.is_(True))
                .order_by(agents.c.name)
            ).all()
        return [int(r.telegram_user_id) for r in rows]

    def password_hash(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(agents.c.password_hash).where(agents.c.name == name, agents.c.active.is_(True))
            ).scalar()
        return str(value) if value else None

    def password_hashes(self) -> list[str]:
        with self._engine.connect() as conn:
            return [str(v) for v in conn.execute(select(agents.c.password_hash)).scalars()]

    def add(self, agent: NewAgent) -> Agent:
        """A new agent; their open cases claimed in the group as ``tg:<id>`` become theirs (see ``link``)."""
        _check_name(agent.name)
        _check_role(agent.role)
        try:
            with self._engine.begin() as conn:
                self._insert(conn, agent)
                if agent.telegram_user_id is not None:
                    _adopt_group_cases(conn, agent.name, agent.telegram_user_id)
        except IntegrityError:
            raise AgentConflict(_conflict(self, agent.name, agent.telegram_user_id)) from None
        found = self.get(agent.name)
        assert found is not None
        return found

    def change(
        self,
        name: str,
        *,
        role: str | None = None,
        telegram_user_id: int | None = None,
        unlink_telegram: bool = False,
        active: bool | None = None,
        password_hash: str | None = None,
    ) -> Agent:
        """Change what is given; the last active admin cannot lose the role or be removed."""
        values: dict[str, object] = {"updated_at": utcnow()}
        if role is not None:
            _check_role(role)
            values["role"] = role
        if unlink_telegram:
            values["telegram_user_id"] = None
        elif telegram_user_id is not None:
            values["telegram_user_id"] = telegram_user_id
        if active is not None:
            values["active"] = active
            if not active:
                values["telegram_user_id"] = None  # the id may be linked to someone else now
        if password_hash is not None:
            values["password_hash"] = password_hash
        try:
            with self._engine.begin() as conn:
                row = conn.execute(select(agents).where(agents.c.name == name)).first()
                if row is None:
                    raise LookupError(name)
                demoted = row.role == ADMIN and row.active and (role == AGENT or active is False)
                if demoted and _active_admins(conn) <= 1:
                    raise AgentConflict("the desk needs at least one active admin")
                conn.execute(update(agents).where(agents.c.name == name).values(**values))
                if telegram_user_id is not None and not unlink_telegram:
                    _adopt_group_cases(conn, name, telegram_user_id)
        except IntegrityError:
            raise AgentConflict(_conflict(self, name, telegram_user_id)) from None
        with self._engine.connect() as conn:
            changed = conn.execute(select(agents).where(agents.c.name == name)).first()
            teams = _teams(conn, name)
        assert changed is not None
        return _agent(changed, teams.get(name, ()))

    @staticmethod
    def _insert(conn: Connection, agent: NewAgent) -> None:
        now = utcnow()
        conn.execute(
            insert(agents).values(
                name=agent.name,
                password_hash=agent.password_hash,
                role=agent.role,
                telegram_user_id=agent.telegram_user_id,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )


def group_name(telegram_user_id: int) -> str:
    """How a Telegram user on the allow-list but linked to no agent is named: by the number, never a username."""
    return f"{TELEGRAM_PREFIX}{telegram_user_id}"


def _adopt_group_cases(conn: Connection, name: str, telegram_user_id: int) -> None:
    """Cases claimed in the group before the id was linked are answered from the desk by the same agent."""
    conn.execute(
        update(cases)
        .where(cases.c.assignee == group_name(telegram_user_id), cases.c.status == "claimed")
        .values(assignee=name)
    )


def _active_admins(conn: Connection) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(agents).where(agents.c.role == ADMIN, agents.c.active.is_(True))
        ).scalar_one()
    )


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise AgentConflict("a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AgentConflict(f"role must be one of {', '.join(ROLES)}")


def _conflict(directory: AgentDirectory, name: str, telegram_user_id: int | None) -> str:
    if telegram_user_id is not None and (other := directory.by_telegram(telegram_user_id)) and other.name != name:
        return f"Telegram user {telegram_user_id} is already linked to {other.name}"
    return f"an agent named {name} exists already"


def _teams(conn: Connection, name: str | None = None) -> dict[str, tuple[str, ...]]:
    query = select(agent_teams).order_by(agent_teams.c.team)
    if name is not None:
        query = query.where(agent_teams.c.agent == name)
    teams: dict[str, list[str]] = {}
    for row in conn.execute(query):
        teams.setdefault(row.agent, []).append(row.team)
    return {agent: tuple(names) for agent, names in teams.items()}


def _agent(row: Row[Any], teams: tuple[str, ...]) -> Agent:
    return Agent(
        name=row.name, role=row.role, telegram_user_id=row.telegram_user_id, active=bool(row.active), teams=teams
    )
