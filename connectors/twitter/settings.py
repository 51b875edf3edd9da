"""X channel settings, read once from the environment (see ``.env.example``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.environment import reading

POLL, WEBHOOK = "poll", "webhook"
RATE_WINDOW_SECONDS = 900  # X counts most limits per 15 minutes


@dataclass(frozen=True)
class XCredentials:
    """App bearer token (reads) and OAuth 1.0a user-context keys of the support account (writes)."""

    bearer_token: str
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @property
    def complete(self) -> bool:
        return all(
            (self.bearer_token, self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret)
        )


@dataclass(frozen=True)
class XSettings:
    """How the channel talks to X: credentials, account, polling pace and plan limits.

    ``*_per_window`` are the plan's request limits per 15 minutes; the sender spaces its
    requests so it never needs more than that, whatever ``poll_seconds`` says. ``max_pages``
    bounds the DM pages read per cycle (mentions are read to the end: X serves at most 800).
    An event whose handling fails is tried again after ``event_retry_seconds`` (doubling up
    to ``backoff_max_seconds``) and set aside after ``event_max_failures`` failures; X being
    unreachable, a timeout (``event_timeout_seconds``) or a busy database never counts.
    """

    credentials: XCredentials
    account_id: str
    account_handle: str
    mode: str = POLL
    poll_seconds: float = 20.0
    page_size: int = 100
    max_pages: int = 10
    first_run_lookback_minutes: int = 60
    mentions_per_window: int = 180
    dm_events_per_window: int = 300
    rate_reserve: int = 1
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    max_attempts: int = 5
    lease_seconds: float = 90.0
    event_max_failures: int = 5
    event_retry_seconds: float = 5.0
    event_timeout_seconds: float = 120.0

    @property
    def configured(self) -> bool:
        """True when the channel has everything it needs to run; otherwise it stays idle."""
        return self.credentials.complete and bool(self.account_id)

    @property
    def webhook_mode(self) -> bool:
        """True when X pushes events (Account Activity API) instead of the poller fetching them."""
        return self.mode == WEBHOOK

    @property
    def dm_link(self) -> str:
        """The link that opens a direct message to the support account."""
        return f"https://twitter.com/messages/compose?recipient_id={self.account_id}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> XSettings:
        """Read ``X_*`` variables from ``env`` (the process environment by default)."""
        with reading(env) as read:
            return cls(
                credentials=XCredentials(
                    bearer_token=read.text("X_BEARER_TOKEN"),
                    consumer_key=read.text("X_CONSUMER_KEY"),
                    consumer_secret=read.text("X_CONSUMER_SECRET"),
                    access_token=read.text("X_ACCESS_TOKEN"),
                    access_token_secret=read.text("X_ACCESS_TOKEN_SECRET"),
                ),
                account_id=read.text("X_ACCOUNT_ID"),
                account_handle=read.text("X_ACCOUNT_HANDLE").lstrip("@"),
                mode=read.choice("X_MODE", POLL, (POLL, WEBHOOK)),
                poll_seconds=read.number("X_POLL_SECONDS", 20.0, positive=True),
                page_size=read.integer("X_PAGE_SIZE", 100, minimum=5, maximum=100),
                max_pages=read.integer("X_MAX_PAGES", 10, minimum=1),
                first_run_lookback_minutes=read.integer("X_FIRST_RUN_LOOKBACK_MINUTES", 60, minimum=0),
                mentions_per_window=read.integer("X_MENTIONS_PER_15MIN", 180, minimum=1),
                dm_events_per_window=read.integer("X_DM_EVENTS_PER_15MIN", 300, minimum=1),
                backoff_max_seconds=read.number("X_BACKOFF_MAX_SECONDS", 300.0, positive=True),
                event_max_failures=read.integer("X_EVENT_MAX_FAILURES", 5, minimum=1),
                event_retry_seconds=read.number("X_EVENT_RETRY_SECONDS", 5.0, positive=True),
                event_timeout_seconds=read.number("X_EVENT_TIMEOUT_SECONDS", 120.0, positive=True),
            )
