"""Settings of the agent desk process (web page, alert dispatcher, agents' group bot)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.cases.agent_directory import ADMIN, AGENT, NewAgent
from bot.cases.routing import Routing
from bot.desk.canned import CannedFileError, CannedReply, load_canned
from bot.desk.passwords import is_password_hash
from bot.desk.teams import TeamsFileError, load_routing
from bot.environment import EnvReader, reading
from bot.helpcenter.settings import HelpCenterSettings
from bot.lifecycle.settings import LifecycleSettings
from bot.settings import Settings
from connectors.telegram.settings import DEFAULT_API_BASE_URL, TelegramSettings
from connectors.twitter.settings import XSettings

DEFAULT_SLA_MINUTES = {1: 5, 2: 30, 3: 240, 4: 1440}


NO_AGENTS_HINT = """DESK_AGENTS is empty: nobody can sign in to the agent desk. To add an agent:
  .venv/bin/python -m bot.desk.hash_password      (type the password; it prints a hash)
  then in .env:  DESK_AGENTS=alice:<the hash>     (more agents: alice:<hash>,bob:<hash>)"""


def _pairs(read: EnvReader, name: str) -> list[tuple[str, str]]:
    """``key:value`` items of a comma-separated variable; a malformed item is a problem of ``name``."""
    pairs = []
    for item in read.items(name):
        key, _, value = item.partition(":")
        if not key.strip() or not value.strip():
            read.problem(name, "expected name:value items separated by commas")
            return []
        pairs.append((key.strip(), value.strip()))
    return pairs


def _agents(read: EnvReader) -> tuple[dict[str, str], dict[str, int]]:
    """``DESK_AGENTS``: ``name:hash`` or ``name:hash:telegram_user_id`` items; names to hashes, names to Telegram ids.

    Each hash must be one ``hash_password`` makes (a shell or make may have eaten its ``$``).
    """
    agents: dict[str, str] = {}
    telegram: dict[str, int] = {}
    for name, value in _pairs(read, "DESK_AGENTS"):
        encoded, _, telegram_id = value.partition(":")
        if telegram_id:
            if not telegram_id.strip().isdigit():
                read.problem("DESK_AGENTS", f"the Telegram user id of {name!r} must be a number (not a @username)")
            else:
                telegram[name] = int(telegram_id)
        if name in agents:
            read.problem("DESK_AGENTS", f"agent {name!r} is listed twice")
        elif not is_password_hash(encoded):
            read.problem(
                "DESK_AGENTS",
                f"the hash of {name!r} is not one `python -m bot.desk.hash_password` prints "
                "(pbkdf2_sha256$<iterations>$<salt>$<digest>); were its $ parts expanded by a shell?",
            )
        agents[name] = encoded
    return agents, telegram


def _routing(read: EnvReader) -> Routing:
    """``DESK_TEAMS_FILE`` (default ``bot/desk/teams.yml``): the teams and their routes."""
    path = read.text("DESK_TEAMS_FILE")
    try:
        return load_routing(Path(path)) if path else load_routing()
    except TeamsFileError as error:
        read.problem("DESK_TEAMS_FILE", str(error))
        return load_routing()


def _canned(read: EnvReader, teams: tuple[str, ...]) -> tuple[CannedReply, ...]:
    """``DESK_CANNED_REPLIES_FILE`` (default ``bot/desk/canned_replies.yml``), its teams among ``teams``."""
    path = read.text("DESK_CANNED_REPLIES_FILE")
    try:
        return load_canned(teams, Path(path)) if path else load_canned(teams)
    except CannedFileError as error:
        read.problem("DESK_CANNED_REPLIES_FILE", str(error))
        return ()


def _admins(read: EnvReader, agents: dict[str, str]) -> tuple[str, ...]:
    """``DESK_ADMINS``: who may manage agents in the desk; by default the first agent of ``DESK_AGENTS``."""
    admins = read.items("DESK_ADMINS")
    for name in admins:
        if name not in agents:
            read.problem("DESK_ADMINS", f"{name!r} is not in DESK_AGENTS")
    return admins or tuple(list(agents)[:1])


def _sla_minutes(read: EnvReader) -> dict[int, int]:
    sla = dict(DEFAULT_SLA_MINUTES)
    for key, minutes in _pairs(read, "DESK_SLA_MINUTES"):
        priority = key.upper().removeprefix("P")
        if priority not in {str(p) for p in DEFAULT_SLA_MINUTES} or not minutes.isdigit() or int(minutes) < 1:
            read.problem("DESK_SLA_MINUTES", "expected items like P1:5 (priorities P1-P4, whole minutes)")
            return dict(DEFAULT_SLA_MINUTES)
        sla[int(priority)] = int(minutes)
    return sla


@dataclass(frozen=True)
class DeskSettings:
    """Everything the desk reads from the environment, read once."""

    core: Settings
    attachment_dir: Path  # shared with the Telegram channel, which sends the files agents queue there
    x: XSettings | None = None  # set when the X channel is configured
    customer_telegram: TelegramSettings | None = None  # the customer bot, for the typing action; set with its token
    agents: dict[str, str] = field(default_factory=dict)  # name -> password hash; seeds the agents table once
    agent_telegram: dict[str, int] = field(default_factory=dict)  # name -> Telegram user id, seeded with them
    admins: tuple[str, ...] = ()  # seeded with the admin role
    host: str = "127.0.0.1"
    public_origin: str | None = None
    cookie_secure: bool = False
    idle_minutes: float = 30.0
    session_max_hours: float = 12.0
    sla_minutes: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    routing: Routing = field(default_factory=load_routing)  # teams and which cases reach them
    canned_replies: tuple[CannedReply, ...] = field(default_factory=lambda: load_canned(load_routing().teams))
    poll_seconds: float = 0.2
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    p1_realert_seconds: float = 120.0
    no_agent_notice_seconds: float = 60.0
    agent_bot_token: str | None = None
    agent_chat_id: int | None = None
    agent_telegram_ids: tuple[int, ...] = ()
    agent_poll_timeout_seconds: int = 20  # the agents' bot's getUpdates long poll
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    helpcenter: HelpCenterSettings = field(default_factory=HelpCenterSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)  # the daily purge's retention

    @property
    def agent_seeds(self) -> list[NewAgent]:
        """The agents table's first rows, from ``DESK_AGENTS`` and ``DESK_ADMINS``."""
        return [
            NewAgent(name, encoded, ADMIN if name in self.admins else AGENT, self.agent_telegram.get(name))
            for name, encoded in self.agents.items()
        ]

    @property
    def telegram_group_enabled(self) -> bool:
        return bool(self.agent_bot_token and self.agent_chat_id is not None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeskSettings:
        """Read ``DESK_*``, ``ALERT_*`` and ``TELEGRAM_*`` variables (see ``.env.example``)."""
        with reading(env) as read:
            webhook_url = read.url("ALERT_WEBHOOK_URL", schemes=("http", "https"))
            webhook_secret = read.optional("ALERT_WEBHOOK_SECRET")
            if webhook_url and not webhook_secret:
                read.problem("ALERT_WEBHOOK_SECRET", "must be set with ALERT_WEBHOOK_URL, to sign the alerts")
            public_origin = read.url("DESK_PUBLIC_ORIGIN", schemes=("http", "https"))
            x = XSettings.from_env(env)
            agents, agent_telegram = _agents(read)
            routing = _routing(read)
            telegram = TelegramSettings.from_env(env)
            return cls(
                core=Settings.from_env(env),
                attachment_dir=telegram.attachment_dir,
                x=x if x.configured else None,
                customer_telegram=telegram if telegram.enabled else None,
                agents=agents,
                agent_telegram=agent_telegram,
                admins=_admins(read, agents),
                host=read.text("DESK_HOST", "127.0.0.1"),
                public_origin=public_origin.rstrip("/") if public_origin else None,
                cookie_secure=read.flag("DESK_COOKIE_SECURE", False),
                idle_minutes=read.number("DESK_IDLE_MINUTES", 30.0, positive=True),
                session_max_hours=read.number("DESK_SESSION_MAX_HOURS", 12.0, positive=True),
                sla_minutes=_sla_minutes(read),
                routing=routing,
                canned_replies=_canned(read, routing.teams),
                poll_seconds=read.number("DESK_POLL_SECONDS", 0.2, positive=True),
                retry_base_seconds=read.number("ALERT_RETRY_BASE_SECONDS", 1.0, positive=True),
                retry_max_seconds=read.number("ALERT_RETRY_MAX_SECONDS", 300.0, positive=True),
                p1_realert_seconds=read.number("P1_REALERT_SECONDS", 120.0, positive=True),
                no_agent_notice_seconds=read.number("DESK_NO_AGENT_NOTICE_SECONDS", 60.0, minimum=0.0),
                agent_bot_token=read.optional("TELEGRAM_AGENT_BOT_TOKEN"),
                agent_chat_id=read.integer("TELEGRAM_AGENT_CHAT_ID", 0) or None,
                agent_telegram_ids=read.integers("TELEGRAM_AGENT_IDS"),
                agent_poll_timeout_seconds=read.integer("TELEGRAM_AGENT_POLL_TIMEOUT_SECONDS", 20, minimum=1),
                telegram_api_base_url=read.url("TELEGRAM_API_BASE_URL", ("http", "https")) or DEFAULT_API_BASE_URL,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                helpcenter=HelpCenterSettings.from_env(env),
                lifecycle=LifecycleSettings.from_env(env),
            )
