"""Canned replies: an agent's ready words per team and language, with the case's values filled in.

They are the team's own words, sent as the agent's reply after the agent read (and maybe
edited) them, so they live with the desk (``canned_replies.yml``) rather than among the
bot's responses; they follow the same rules: every language, the same placeholders.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.language import DEFAULT_LANGUAGE, LANGUAGES

DEFAULT_CANNED_FILE = Path(__file__).resolve().parent / "canned_replies.yml"
VARIABLES = frozenset({"customer_name", "case_id", "official_domains"})


class CannedFileError(ValueError):
    """The canned replies file breaks a rule; the message says which reply and how."""


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: str
    teams: frozenset[str]  # empty: every team
    texts: dict[str, str]  # language -> text

    def serves(self, team: str) -> bool:
        return not self.teams or team in self.teams

    def render(self, language: str, **values: str) -> str:
        """The text in ``language`` (English where the reply lacks it), variables filled in."""
        return self.texts.get(language, self.texts[DEFAULT_LANGUAGE]).format(**values)


def load_canned(teams: tuple[str, ...], path: Path = DEFAULT_CANNED_FILE) -> tuple[CannedReply, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise CannedFileError(f"{path}: {error}") from error
    raw = data.get("replies") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise CannedFileError(f"{path}: expected a list under replies")
    replies = tuple(_reply(path, item, teams) for item in raw)
    ids = [r.id for r in replies]
    if len(set(ids)) != len(ids):
        raise CannedFileError(f"{path}: reply ids must be unique")
    return replies


def _reply(path: Path, item: Any, known_teams: tuple[str, ...]) -> CannedReply:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("title"), str):
        raise CannedFileError(f"{path}: each reply needs an id and a title")
    where = f"{path}: reply {item['id']}"
    teams = item.get("teams") or []
    if not isinstance(teams, list) or any(t not in known_teams for t in teams):
        raise CannedFileError(f"{where}: teams must be among {', '.join(known_teams)}")
    texts = item.get("text")
    if not isinstance(texts, dict) or not all(isinstance(v, str) and v for v in texts.values()):
        raise CannedFileError(f"{where}: text must map languages to texts")
    if set(texts) - set(LANGUAGES) or DEFAULT_LANGUAGE not in texts:
        raise CannedFileError(f"{where}: languages are {', '.join(LANGUAGES)}, English first of all")
    for language, text in texts.items():
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
        except ValueError as error:
            raise CannedFileError(f"{where} [{language}]: {error}") from error
        if used - VARIABLES:
            raise CannedFileError(f"{where} [{language}]: unknown {sorted(used - VARIABLES)}; use {sorted(VARIABLES)}")
    return CannedReply(item["id"], item["title"], frozenset(teams), dict(texts))
