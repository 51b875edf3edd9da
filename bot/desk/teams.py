"""The desk's teams and routes, read once from YAML (``bot/desk/teams.yml`` unless ``DESK_TEAMS_FILE``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.cases.routing import Route, Routing

DEFAULT_TEAMS_FILE = Path(__file__).resolve().parent / "teams.yml"
MAX_TEAM_CHARS = 32  # the column


class TeamsFileError(ValueError):
    """The teams file does not say what the desk needs; the message says where."""


def load_routing(path: Path = DEFAULT_TEAMS_FILE) -> Routing:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TeamsFileError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise TeamsFileError(f"{path}: expected a mapping with teams, default and routes")
    teams = data.get("teams")
    if not isinstance(teams, list) or not teams or not all(_is_team(t) for t in teams):
        raise TeamsFileError(f"{path}: teams must be a list of names of 1-{MAX_TEAM_CHARS} characters")
    default = data.get("default")
    if not isinstance(default, str) or default not in teams:
        raise TeamsFileError(f"{path}: default must be one of the teams")
    routes = data.get("routes") or []
    if not isinstance(routes, list):
        raise TeamsFileError(f"{path}: routes must be a list")
    return Routing(tuple(teams), default, tuple(_route(path, n, r, teams) for n, r in enumerate(routes, 1)))


def _is_team(name: Any) -> bool:
    return isinstance(name, str) and 0 < len(name) <= MAX_TEAM_CHARS and name == name.strip()


def _route(path: Path, number: int, raw: Any, teams: list[str]) -> Route:
    where = f"{path}: route {number}"
    if not isinstance(raw, dict) or raw.get("team") not in teams:
        raise TeamsFileError(f"{where}: needs a team that is one of the teams")
    intents, priorities = raw.get("intents") or [], raw.get("priorities") or []
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        raise TeamsFileError(f"{where}: intents must be a list of intent names")
    if not isinstance(priorities, list) or not all(p in (1, 2, 3, 4) for p in priorities):
        raise TeamsFileError(f"{where}: priorities must be a list of 1 to 4")
    return Route(raw["team"], frozenset(intents), frozenset(priorities))
