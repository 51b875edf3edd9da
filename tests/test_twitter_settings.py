"""X settings from the environment: idle without credentials, sensible defaults, bad mode refused."""

from __future__ import annotations

import pytest

from connectors.twitter.settings import XSettings

FULL = {
    "X_BEARER_TOKEN": "b",
    "X_CONSUMER_KEY": "ck",
    "X_CONSUMER_SECRET": "cs",
    "X_ACCESS_TOKEN": "at",
    "X_ACCESS_TOKEN_SECRET": "ats",
    "X_ACCOUNT_ID": "1000",
    "X_ACCOUNT_HANDLE": "@ExampleSupport",
}


def test_defaults_and_configured() -> None:
    settings = XSettings.from_env(FULL)
    assert settings.configured and not settings.webhook_mode
    assert settings.poll_seconds == 20 and settings.account_handle == "ExampleSupport"
    assert settings.dm_link == "https://twitter.com/messages/compose?recipient_id=1000"


@pytest.mark.parametrize("missing", ["X_BEARER_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_ACCOUNT_ID"])
def test_idle_without_any_credential(missing: str) -> None:
    assert not XSettings.from_env({k: v for k, v in FULL.items() if k != missing}).configured


def test_mode_and_limits_from_env() -> None:
    settings = XSettings.from_env({**FULL, "X_MODE": "webhook", "X_POLL_SECONDS": "90", "X_MENTIONS_PER_15MIN": "10"})
    assert settings.webhook_mode and settings.poll_seconds == 90 and settings.mentions_per_window == 10
    with pytest.raises(ValueError, match="X_MODE"):
        XSettings.from_env({**FULL, "X_MODE": "stream"})


def test_failed_events_are_set_aside_after_five_tries_unless_told_otherwise() -> None:
    assert XSettings.from_env(FULL).event_max_failures == 5
    settings = XSettings.from_env(
        {**FULL, "X_EVENT_MAX_FAILURES": "3", "X_EVENT_RETRY_SECONDS": "1.5", "X_EVENT_TIMEOUT_SECONDS": "30"}
    )
    assert (settings.event_max_failures, settings.event_retry_seconds, settings.event_timeout_seconds) == (3, 1.5, 30)
