"""Which team a case belongs to: its own team once transferred, else the first route it matches.

The desk reads the routes from YAML (``bot/desk/teams.py``); here they are plain data and
the SQL that gives every case its team, so the queue filters by team in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal, true
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.schema import cases
from bot.cases.store import Case


@dataclass(frozen=True)
class Route:
    """Cases of these intents and priorities (empty: any) go to ``team``."""

    team: str
    intents: frozenset[str] = frozenset()
    priorities: frozenset[int] = frozenset()

    def matches(self, intent: str, priority: int) -> bool:
        return (not self.intents or intent in self.intents) and (not self.priorities or priority in self.priorities)

    def condition(self) -> ColumnElement[bool]:
        parts = []
        if self.intents:
            parts.append(cases.c.intent.in_(sorted(self.intents)))
        if self.priorities:
            parts.append(cases.c.priority.in_(sorted(self.priorities)))
        return and_(*parts) if parts else true()


@dataclass(frozen=True)
class Routing:
    teams: tuple[str, ...]
    default: str
    routes: tuple[Route, ...] = ()

    def team_for(self, intent: str, priority: int) -> str:
        return next((r.team for r in self.routes if r.matches(intent, priority)), self.default)

    def team_of(self, found: Case) -> str:
        return found.team or self.team_for(found.intent, found.priority)

    def team_column(self) -> ColumnElement[str]:
        """Each case's team in SQL, the same as ``team_of``."""
        routed: ColumnElement[str] = (
            case(*((r.condition(), literal(r.team)) for r in self.routes), else_=literal(self.default))
            if self.routes
            else literal(self.default)
        )
        return func.coalesce(cases.c.team, routed)
