"""Telegram connector settings, read once from the environment (see ``.env.example``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.cases.instances import default_instance_id
from bot.settings import PROJECT_ROOT

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # the Bot API's own getFile limit


@dataclass(frozen=True)
class TelegramSettings:
    """Everything the customer-facing Telegram bot needs; no token means the channel stays idle.

    ``api_base_url`` ends in ``/bot`` like PTB's ``base_url``; the file URL is derived from it
    (``.../bot`` -> ``.../file/bot``), so tests point both at the fake server with one value.
    """

    bot_token: str | None
    webhook_url: str | None
    webhook_secret: str | None
    api_base_url: str
    bot_username: str | None
    attachment_dir: Path
    max_attachment_bytes: int
    poll_timeout_seconds: int
    poller_retry_seconds: float
    per_chat_interval_seconds: float
    request_timeout_seconds: float
    sweep_seconds: float
    instance_id: str
    instance_stale_seconds: float
    turn_timeout_seconds: float
    max_turn_attempts: int
    max_concurrent_turns: int
    max_send_attempts: int
    database_timeout_seconds: float
    overall_sends_per_second: int
    typing_after_seconds: float

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token)

    @property
    def file_base_url(self) -> str:
        root, _, _ = self.api_base_url.rstrip("/").rpartition("/")
        return f"{root}/file/bot"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramSettings:
        """Read ``TELEGRAM_*`` variables from ``env`` (the process environment by default)."""
        env = dict(os.environ if env is None else env)
        attachment_dir = Path(env.get("TELEGRAM_ATTACHMENT_DIR") or PROJECT_ROOT / "var" / "attachments")
        if not attachment_dir.is_absolute():
            attachment_dir = PROJECT_ROOT / attachment_dir
        return cls(
            bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            api_base_url=env.get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL,
            bot_username=(env.get("TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None,
            attachment_dir=attachment_dir,
            max_attachment_bytes=int(env.get("TELEGRAM_MAX_ATTACHMENT_BYTES") or DEFAULT_MAX_ATTACHMENT_BYTES),
            poll_timeout_seconds=int(env.get("TELEGRAM_POLL_TIMEOUT_SECONDS") or 25),
            poller_retry_seconds=float(env.get("TELEGRAM_POLLER_RETRY_SECONDS") or 5),
            per_chat_interval_seconds=float(env.get("TELEGRAM_PER_CHAT_INTERVAL_SECONDS") or 1.0),
            request_timeout_seconds=float(env.get("TELEGRAM_REQUEST_TIMEOUT_SECONDS") or 10.0),
            sweep_seconds=float(env.get("TELEGRAM_SWEEP_SECONDS") or 1.0),
            instance_id=(env.get("INSTANCE_ID") or "").strip()[:128] or default_instance_id(env.get("RASA_PORT")),
            instance_stale_seconds=float(env.get("INSTANCE_STALE_SECONDS") or 10.0),
            turn_timeout_seconds=float(env.get("TELEGRAM_TURN_TIMEOUT_SECONDS") or 60.0),
            max_turn_attempts=int(env.get("TELEGRAM_MAX_TURN_ATTEMPTS") or 3),
            max_concurrent_turns=int(env.get("TELEGRAM_MAX_CONCURRENT_TURNS") or 16),
            max_send_attempts=int(env.get("TELEGRAM_MAX_SEND_ATTEMPTS") or 8),
            database_timeout_seconds=float(env.get("DATABASE_CALL_TIMEOUT_SECONDS") or 30.0),
            overall_sends_per_second=int(env.get("TELEGRAM_OVERALL_SENDS_PER_SECOND") or 30),
            typing_after_seconds=float(env.get("TELEGRAM_TYPING_AFTER_SECONDS") or 1.0),
        )
