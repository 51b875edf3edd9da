"""Settings of the agent desk process (web page, alert dispatcher, agents' group bot)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.helpcenter.settings import HelpCenterSettings
from bot.settings import Settings
from connectors.telegram.settings import TelegramSettings
from connectors.twitter.settings import XSettings

DEFAULT_SLA_MINUTES = {1: 5, 2: 30, 3: 240, 4: 1440}


def _pairs(value: str, sep: str = ":") -> list[tuple[str, str]]:
    pairs = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, rest = item.partition(sep)
        if not rest:
            raise ValueError(f"expected name{sep}value, got {item!r}")
        pairs.append((key.strip(), rest.strip()))
    return pairs


@dataclass(frozen=True)
class DeskSettings:
    """Everything the desk reads from the environment, read once."""

    core: Settings
    attachment_dir: Path  # shared with the Telegram channel, which sends the files agents queue there
    x: XSettings | None = None  # set when the X channel is configured
    agents: dict[str, str] = field(default_factory=dict)  # name -> password hash
    host: str = "127.0.0.1"
    public_origin: str | None = None
    cookie_secure: bool = False
    idle_minutes: float = 30.0
    session_max_hours: float = 12.0
    sla_minutes: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    poll_seconds: float = 0.2
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    p1_realert_seconds: float = 120.0
    no_agent_notice_seconds: float = 60.0
    agent_bot_token: str | None = None
    agent_chat_id: int | None = None
    agent_telegram_ids: tuple[int, ...] = ()
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    helpcenter: HelpCenterSettings = field(default_factory=HelpCenterSettings)

    @property
    def telegram_group_enabled(self) -> bool:
        return bool(self.agent_bot_token and self.agent_chat_id is not None)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> DeskSettings:
        """Read ``DESK_*``, ``ALERT_*`` and ``TELEGRAM_*`` variables (see ``.env.example``)."""
        env = dict(os.environ if env is None else env)
        chat_id = env.get("TELEGRAM_AGENT_CHAT_ID", "").strip()
        webhook_url = env.get("ALERT_WEBHOOK_URL") or None
        webhook_secret = env.get("ALERT_WEBHOOK_SECRET") or None
        if webhook_url and not webhook_secret:
            raise ValueError("ALERT_WEBHOOK_URL needs ALERT_WEBHOOK_SECRET to sign the alerts")
        sla = dict(DEFAULT_SLA_MINUTES)
        for key, minutes in _pairs(env.get("DESK_SLA_MINUTES", "")):
            sla[int(key.upper().lstrip("P"))] = int(minutes)
        x = XSettings.from_env(env)
        return cls(
            core=Settings.from_env(env),
            attachment_dir=TelegramSettings.from_env(env).attachment_dir,
            x=x if x.configured else None,
            agents=dict(_pairs(env.get("DESK_AGENTS", ""))),
            host=env.get("DESK_HOST", "127.0.0.1"),
            public_origin=(env.get("DESK_PUBLIC_ORIGIN") or "").rstrip("/") or None,
            cookie_secure=env.get("DESK_COOKIE_SECURE", "false").lower() == "true",
            idle_minutes=float(env.get("DESK_IDLE_MINUTES", "30")),
            session_max_hours=float(env.get("DESK_SESSION_MAX_HOURS", "12")),
            sla_minutes=sla,
            poll_seconds=float(env.get("DESK_POLL_SECONDS", "0.2")),
            retry_base_seconds=float(env.get("ALERT_RETRY_BASE_SECONDS", "1")),
            retry_max_seconds=float(env.get("ALERT_RETRY_MAX_SECONDS", "300")),
            p1_realert_seconds=float(env.get("P1_REALERT_SECONDS", "120")),
            no_agent_notice_seconds=float(env.get("DESK_NO_AGENT_NOTICE_SECONDS", "60")),
            agent_bot_token=env.get("TELEGRAM_AGENT_BOT_TOKEN") or None,
            agent_chat_id=int(chat_id) if chat_id else None,
            agent_telegram_ids=tuple(
                int(x) for x in env.get("TELEGRAM_AGENT_IDS", "").replace(" ", "").split(",") if x
            ),
            telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org/bot",
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            helpcenter=HelpCenterSettings.from_env(env),
        )
