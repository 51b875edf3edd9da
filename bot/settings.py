"""Core settings, read once from the environment into a frozen dataclass.

Connectors and the desk keep their own settings classes next to their code; this one
holds what every process shares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.cases.database import DatabaseTimeouts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'support.db'}"


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (the process environment by default)."""
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=env.get("REDIS_URL") or None,
            database_timeouts=DatabaseTimeouts.from_env(env),
            redis_timeout_seconds=float(env.get("REDIS_TIMEOUT_SECONDS") or 5),
            official_domains=_split(env.get("OFFICIAL_DOMAINS", "example-exchange.com")),
            support_handles=_split(env.get("SUPPORT_HANDLES", "@ExampleExchangeSupport")),
            default_wait_minutes=int(env.get("DEFAULT_WAIT_MINUTES", "15")),
        )
