"""Core settings, read once from the environment into a frozen dataclass.

Connectors and the desk keep their own settings classes next to their code; this one
holds what every process shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.cases.database import DatabaseTimeouts
from bot.environment import EnvReader, reading

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'support.db'}"


SUPPORTED_DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Settings:
    """What the Rasa server, the action server and the desk all need."""

    database_url: str
    redis_url: str | None
    database_timeouts: DatabaseTimeouts
    redis_timeout_seconds: float
    official_domains: tuple[str, ...]
    support_handles: tuple[str, ...]
    default_wait_minutes: int
    rating_comment_minutes: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (the process environment by default); ``SettingsError`` names bad ones."""
        with reading(env) as read:
            return cls(
                database_url=_database_url(read),
                redis_url=read.url("REDIS_URL", schemes=("redis", "rediss")),
                database_timeouts=DatabaseTimeouts.from_env(env),
                redis_timeout_seconds=read.number("REDIS_TIMEOUT_SECONDS", 5.0, positive=True),
                official_domains=read.items("OFFICIAL_DOMAINS", "example-exchange.com"),
                support_handles=read.items("SUPPORT_HANDLES", "@ExampleExchangeSupport"),
                default_wait_minutes=read.integer("DEFAULT_WAIT_MINUTES", 15, minimum=1),
                rating_comment_minutes=read.integer("RATING_COMMENT_MINUTES", 10, minimum=1),
            )


def _database_url(read: EnvReader) -> str:
    """``DATABASE_URL``, if SQLAlchemy reads it as SQLite or PostgreSQL (never shown: it may hold a password)."""
    url = read.text("DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = ""
    if backend not in SUPPORTED_DATABASES:
        read.problem("DATABASE_URL", "must be a sqlite:/// or postgresql:// URL")
        return DEFAULT_DATABASE_URL
    folder = _sqlite_folder(url)
    if folder is not None and folder != PROJECT_ROOT / "var" and not folder.is_dir():
        read.problem("DATABASE_URL", f"the folder of the SQLite file, {folder}, does not exist (a typo?)")
    return url


def _sqlite_folder(url: str) -> Path | None:
    """The folder a SQLite file URL puts its file in (None: not a file; relative paths from the working folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve().parent
