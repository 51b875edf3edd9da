"""X channel settings, read once from the environment (see ``.env.example``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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
        env = dict(os.environ if env is None else env)
        mode = env.get("X_MODE", POLL).strip().lower() or POLL
        if mode not in (POLL, WEBHOOK):
            raise ValueError(f"X_MODE must be {POLL!r} or {WEBHOOK!r}, not {mode!r}")
        return cls(
            credentials=XCredentials(
                bearer_token=env.get("X_BEARER_TOKEN", ""),
                consumer_key=env.get("X_CONSUMER_KEY", ""),
                consumer_secret=env.get("X_CONSUMER_SECRET", ""),
                access_token=env.get("X_ACCESS_TOKEN", ""),
                access_token_secret=env.get("X_ACCESS_TOKEN_SECRET", ""),
            ),
            account_id=env.get("X_ACCOUNT_ID", "").strip(),
            account_handle=env.get("X_ACCOUNT_HANDLE", "").strip().lstrip("@"),
            mode=mode,
            poll_seconds=float(env.get("X_POLL_SECONDS", "20")),
            page_size=int(env.get("X_PAGE_SIZE", "100")),
            max_pages=int(env.get("X_MAX_PAGES", "10")),
            first_run_lookback_minutes=int(env.get("X_FIRST_RUN_LOOKBACK_MINUTES", "60")),
            mentions_per_window=int(env.get("X_MENTIONS_PER_15MIN", "180")),
            dm_events_per_window=int(env.get("X_DM_EVENTS_PER_15MIN", "300")),
            backoff_max_seconds=float(env.get("X_BACKOFF_MAX_SECONDS", "300")),
            event_max_failures=int(env.get("X_EVENT_MAX_FAILURES", "5")),
            event_retry_seconds=float(env.get("X_EVENT_RETRY_SECONDS", "5")),
            event_timeout_seconds=float(env.get("X_EVENT_TIMEOUT_SECONDS", "120")),
        )
