"""Telegram connector settings, read once from the environment (see ``.env.example``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.cases.instances import default_instance_id
from bot.environment import EnvReader, reading
from bot.settings import PROJECT_ROOT, Settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # the Bot API's own getFile limit
MAX_SENDS_PER_SECOND_WITH_PAID_BROADCASTS = 1000  # a bot's messages a second in all when it pays for broadcasts


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
    pickup_seconds: float  # how often a server with free turn slots looks for updates nobody runs yet
    instance_id: str
    instance_stale_seconds: float
    turn_timeout_seconds: float
    max_turn_attempts: int
    max_concurrent_turns: int
    max_send_attempts: int
    database_timeout_seconds: float
    overall_sends_per_second: int  # for the bot: counted in Redis across servers when redis_url is set
    paid_sends_per_second: int  # past that, as paid broadcasts (Telegram Stars); 0: the bot does not pay
    typing_after_seconds: float
    redis_url: str | None = None
    redis_timeout_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token)

    @property
    def claim_hold_seconds(self) -> float:
        """How long an inbox or outbox claim holds without its instance's heartbeat ending: longer than any turn."""
        return self.turn_timeout_seconds * 2 + self.instance_stale_seconds

    @property
    def file_base_url(self) -> str:
        root, _, _ = self.api_base_url.rstrip("/").rpartition("/")
        return f"{root}/file/bot"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramSettings:
        """Read ``TELEGRAM_*`` variables from ``env`` (the process environment by default)."""
        with reading(env) as read:
            shared = Settings.from_env(env)  # REDIS_URL and its timeout are every process's (bot.settings)
            attachment_dir = Path(read.text("TELEGRAM_ATTACHMENT_DIR") or PROJECT_ROOT / "var" / "attachments")
            overall = read.integer("TELEGRAM_OVERALL_SENDS_PER_SECOND", 30, minimum=1)
            return cls(
                bot_token=read.optional("TELEGRAM_BOT_TOKEN"),
                webhook_url=_webhook_url(read),
                webhook_secret=read.optional("TELEGRAM_WEBHOOK_SECRET"),
                api_base_url=read.url("TELEGRAM_API_BASE_URL", schemes=("https", "http")) or DEFAULT_API_BASE_URL,
                bot_username=read.text("TELEGRAM_BOT_USERNAME").lstrip("@") or None,
                attachment_dir=attachment_dir if attachment_dir.is_absolute() else PROJECT_ROOT / attachment_dir,
                max_attachment_bytes=read.integer(
                    "TELEGRAM_MAX_ATTACHMENT_BYTES", DEFAULT_MAX_ATTACHMENT_BYTES, minimum=1
                ),
                poll_timeout_seconds=read.integer("TELEGRAM_POLL_TIMEOUT_SECONDS", 25, minimum=0),
                poller_retry_seconds=read.number("TELEGRAM_POLLER_RETRY_SECONDS", 5.0, positive=True),
                per_chat_interval_seconds=read.number("TELEGRAM_PER_CHAT_INTERVAL_SECONDS", 1.0, minimum=0.0),
                request_timeout_seconds=read.number("TELEGRAM_REQUEST_TIMEOUT_SECONDS", 10.0, positive=True),
                sweep_seconds=read.number("TELEGRAM_SWEEP_SECONDS", 1.0, positive=True),
                pickup_seconds=read.number("TELEGRAM_PICKUP_SECONDS", 0.2, positive=True),
                instance_id=read.text("INSTANCE_ID")[:128] or default_instance_id(read.optional("RASA_PORT")),
                instance_stale_seconds=read.number("INSTANCE_STALE_SECONDS", 10.0, positive=True),
                turn_timeout_seconds=read.number("TELEGRAM_TURN_TIMEOUT_SECONDS", 60.0, positive=True),
                max_turn_attempts=read.integer("TELEGRAM_MAX_TURN_ATTEMPTS", 3, minimum=1),
                max_concurrent_turns=read.integer("TELEGRAM_MAX_CONCURRENT_TURNS", 16, minimum=1),
                max_send_attempts=read.integer("TELEGRAM_MAX_SEND_ATTEMPTS", 20, minimum=1),  # ~14 min of retries
                database_timeout_seconds=read.number("DATABASE_CALL_TIMEOUT_SECONDS", 30.0, positive=True),
                overall_sends_per_second=overall,
                paid_sends_per_second=_paid_sends(read, overall),
                typing_after_seconds=read.number("TELEGRAM_TYPING_AFTER_SECONDS", 1.0, minimum=0.0),
                redis_url=shared.redis_url,
                redis_timeout_seconds=shared.redis_timeout_seconds,
            )


def _paid_sends(read: EnvReader, overall: int) -> int:
    """``TELEGRAM_PAID_SENDS_PER_SECOND``: with the free budget, within what Telegram allows paid broadcasts."""
    paid = read.integer("TELEGRAM_PAID_SENDS_PER_SECOND", 0, minimum=0)
    most = MAX_SENDS_PER_SECOND_WITH_PAID_BROADCASTS
    if paid and overall + paid > most:
        read.problem("TELEGRAM_PAID_SENDS_PER_SECOND", f"with TELEGRAM_OVERALL_SENDS_PER_SECOND ({overall}) must be "
                     f"at most {most} a second, Telegram's limit with paid broadcasts")
        return 0
    return paid


def _webhook_url(read: EnvReader) -> str | None:
    """``TELEGRAM_WEBHOOK_URL``: Telegram calls only HTTPS webhooks; plain HTTP only on loopback, for a local fake."""
    url = read.url("TELEGRAM_WEBHOOK_URL", schemes=("https", "http"))
    if url is not None and urlsplit(url).scheme == "http" and urlsplit(url).hostname not in LOOPBACK_HOSTS:
        read.problem("TELEGRAM_WEBHOOK_URL", "must start with https:// (Telegram calls only HTTPS webhooks)")
        return None
    return url
