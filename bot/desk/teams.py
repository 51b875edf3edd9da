"""The desk's teams and routes, as a document checked one way wherever it comes from.

The YAML file (``bot/desk/teams.yml`` unless ``DESK_TEAMS_FILE``) is the default; an
admin's edit on the desk is the same document, sent as JSON.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from bot.cases.routing import Route, Routing

DEFAULT_TEAMS_FILE = Path(__file__).resolve().parent / "teams.yml"
MAX_TEAM_CHARS = 32  # the column
MAX_TEAMS = 50
MAX_ROUTES = 200
DOCUMENT_KEYS = frozenset({"teams", "default", "routes"})
ROUTE_KEYS = frozenset({"team", "intents", "priorities"})


class TeamsFileError(ValueError):
    """The teams file does not say what the desk needs; the message says where."""


def load_routing(path: Path = DEFAULT_TEAMS_FILE) -> Routing:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TeamsFileError(f"{path}: {error}") from error
    return parse_routing(data, str(path))


def parse_routing(data: Any, where: str, known_intents: Collection[str] | None = None) -> Routing:
    """Teams, default and routes from a mapping; ``known_intents`` given, a route naming another intent is refused."""
    if not isinstance(data, dict):
        raise TeamsFileError(f"{where}: expected a mapping with teams, default and routes")
    _no_other_keys(where, data, DOCUMENT_KEYS)
    teams = data.get("teams")
    if not isinstance(teams, list) or not 0 < len(teams) <= MAX_TEAMS or not all(_is_team(t) for t in teams):
        raise TeamsFileError(f"{where}: teams must be a list of 1-{MAX_TEAMS} names of 1-{MAX_TEAM_CHARS} characters")
    if len(set(teams)) != len(teams):
        raise TeamsFileError(f"{where}: a team is listed twice")
    default = data.get("default")
    if not isinstance(default, str) or default not in teams:
        raise TeamsFileError(f"{where}: default must be one of the teams")
    routes = data.get("routes") or []
    if not isinstance(routes, list) or len(routes) > MAX_ROUTES:
        raise TeamsFileError(f"{where}: routes must be a list of at most {MAX_ROUTES}")
    parsed = tuple(_route(f"{where}: route {n}", r, teams, known_intents) for n, r in enumerate(routes, 1))
    return Routing(tuple(teams), default, parsed)


def routing_document(routing: Routing) -> dict[str, Any]:
    """The mapping ``parse_routing`` reads back as ``routing``."""
    return {
        "teams": list(routing.teams),
        "default": routing.default,
        "routes": [
            {"team": r.team, "intents": sorted(r.intents), "priorities": sorted(r.priorities)} for r in routing.routes
        ],
    }


def _is_team(name: Any) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_TEAM_CHARS and name == name.strip()


def _route(where: str, raw: Any, teams: list[str], known_intents: Collection[str] | None) -> Route:
    if not isinstance(raw, dict) or raw.get("team") not in teams:
        raise TeamsFileError(f"{where}: needs a team that is one of the teams")
    _no_other_keys(where, raw, ROUTE_KEYS)
    intents, priorities = raw.get("intents") or [], raw.get("priorities") or []
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        raise TeamsFileError(f"{where}: intents must be a list of intent names")
    if known_intents is not None and (unknown := sorted(set(intents) - set(known_intents))):
        raise TeamsFileError(f"{where}: unknown intent {', '.join(unknown)}")
    if not isinstance(priorities, list) or not all(p in (1, 2, 3, 4) and type(p) is int for p in priorities):
        raise TeamsFileError(f"{where}: priorities must be a list of 1 to 4")
    if not intents and not priorities:  # it would match every case: that is what ``default`` says
        raise TeamsFileError(f"{where}: name intents or priorities (cases no route matches go to the default team)")
    return Route(raw["team"], frozenset(intents), frozenset(priorities))


def _no_other_keys(where: str, mapping: dict[Any, Any], known: frozenset[str]) -> None:
    """A misspelt key ("intent") would be dropped silently and change what the routing means."""
    unknown = sorted(str(key) for key in mapping if key not in known)
    if unknown:
        raise TeamsFileError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(known))})")
