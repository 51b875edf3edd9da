"""Where the help center's files are and where its pages are published, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.environment import reading
from bot.settings import PROJECT_ROOT, Settings

DEFAULT_DIRECTORY = PROJECT_ROOT / "helpcenter"
FACTS_FILE_NAME = "exchange.yml"
DEFAULT_DESK_PORT = 8080


@dataclass(frozen=True)
class HelpCenterSettings:
    """The article folder, the facts file, the public base URL, and the official names articles quote.

    Attributes:
        directory: holds one folder per language (``en/``, ``ko/``, ``zh/``) of ``<id>.md`` files.
        facts_file: the operator's settings file of exchange-specific facts.
        base_url: the URL under which ``<language>/<id>`` is an article page (no trailing slash).
        official_domains: the exchange's web domains, shared with the bot's security warnings.
        support_handles: the official support accounts, shared likewise.
        reload_check_seconds: how often, at most, the files are looked at for changes.
    """

    directory: Path = DEFAULT_DIRECTORY
    facts_file: Path = DEFAULT_DIRECTORY / FACTS_FILE_NAME
    base_url: str = f"http://127.0.0.1:{DEFAULT_DESK_PORT}/help"
    official_domains: tuple[str, ...] = ("example-exchange.com",)
    support_handles: tuple[str, ...] = ("@ExampleExchangeSupport",)
    reload_check_seconds: float = 1.0

    def article_url(self, language: str, article_id: str) -> str:
        return f"{self.base_url}/{language}/{article_id}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HelpCenterSettings:
        """Read ``HELPCENTER_*``; the base URL defaults to the desk's own pages (``DESK_PUBLIC_ORIGIN`` or its port)."""
        core = Settings.from_env(env)
        with reading(env) as read:
            directory = Path(read.text("HELPCENTER_DIR") or DEFAULT_DIRECTORY)
            if not directory.is_absolute():
                directory = PROJECT_ROOT / directory
            facts_file = Path(read.text("HELPCENTER_FACTS_FILE") or directory / FACTS_FILE_NAME)
            if not facts_file.is_absolute():
                facts_file = PROJECT_ROOT / facts_file
            desk_origin = (read.url("DESK_PUBLIC_ORIGIN", schemes=("http", "https")) or "").rstrip("/") or (
                f"http://127.0.0.1:{read.integer('DESK_PORT', DEFAULT_DESK_PORT, minimum=1, maximum=65535)}"
            )
            base_url = read.url("HELPCENTER_BASE_URL", schemes=("http", "https")) or f"{desk_origin}/help"
            return cls(
                directory=directory,
                facts_file=facts_file,
                base_url=base_url.rstrip("/"),
                official_domains=core.official_domains,
                support_handles=core.support_handles,
                reload_check_seconds=read.number("HELPCENTER_RELOAD_CHECK_SECONDS", 1.0, minimum=0.0),
            )
