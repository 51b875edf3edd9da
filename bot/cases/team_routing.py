"""The teams and routes an admin saved in the desk, kept in the database for every desk process.

One row or none: none means the desk's teams file is in force. The document is stored as
the admin sent it, once the desk validated it (``bot.desk.teams``); this module only keeps it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.cases.agents import agent_teams, agents
from bot.cases.schema import UtcDateTime, cases
from bot.cases.store import ACTIVE_STATUSES, utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()
ROW_ID = 1

team_routing = Table(
    "team_routing",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one routing for the whole desk
    Column("document", JSON, nullable=False),  # {"teams": [...], "default": ..., "routes": [...]}
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class SavedRouting:
    document: dict[str, Any]
    updated_by: str
    updated_at: datetime


class TeamRoutingStore:
    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def load(self) -> SavedRouting | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(team_routing).where(team_routing.c.id == ROW_ID)).first()
        return None if row is None else SavedRouting(row.document, row.updated_by, row.updated_at)

    def save(self, document: dict[str, Any], updated_by: str) -> SavedRouting:
        saved = SavedRouting(document, updated_by, utcnow())
        values = {"document": document, "updated_by": updated_by, "updated_at": saved.updated_at}
        try:
            with self._engine.begin() as conn:
                if not conn.execute(update(team_routing).where(team_routing.c.id == ROW_ID).values(**values)).rowcount:
                    conn.execute(insert(team_routing).values(id=ROW_ID, **values))
        except IntegrityError:  # another admin's first save made the row in between: last save wins
            with self._engine.begin() as conn:
                conn.execute(update(team_routing).where(team_routing.c.id == ROW_ID).values(**values))
        return saved

    def uses(self, teams: Collection[str]) -> list[str]:
        """What still depends on these teams: active agents in them, and active cases transferred to them."""
        if not teams:
            return []
        wanted = sorted(teams)
        with self._engine.connect() as conn:
            members = conn.execute(
                select(agent_teams)
                .join(agents, agents.c.name == agent_teams.c.agent)
                .where(agent_teams.c.team.in_(wanted), agents.c.active)
            ).all()
            transferred = conn.execute(
                select(cases.c.id, cases.c.team).where(cases.c.team.in_(wanted), cases.c.status.in_(ACTIVE_STATUSES))
            ).all()
        return [f"agent {m.agent} is in {m.team}" for m in members] + [
            f"active case {c.id} was transferred to {c.team}" for c in transferred
        ]
