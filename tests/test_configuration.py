"""Configuration fails early and clearly: `.env` read literally, every bad variable named at start."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import dotenv
import pytest

from bot.desk.passwords import check_password, hash_password
from bot.desk.settings import DeskSettings
from bot.environment import SettingsError
from bot.runtime.configuration import INVALID_SETTINGS_STATUS, check_environment, load_env_file
from bot.settings import PROJECT_ROOT

# What a settings class reads: read.<getter>("NAME", ...), _port(read, "NAME", ...), environ.get("NAME")
READ_VARIABLE = re.compile(r'(?:read\.\w+\(|_port\(read, |environ\.get\()\s*"([A-Z][A-Z0-9_]+)"')


def forget_afterwards(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset ``names`` now and again when the test ends (load_dotenv sets them behind monkeypatch's back)."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_a_password_hash_in_env_file_keeps_its_dollars_and_the_environment_wins(monkeypatch, tmp_path):
    password_hash = hash_password("correct horse battery", iterations=1000)
    assert password_hash.count("$") == 3
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# agents\n"
        f"DESK_AGENTS=alice:{password_hash}\n"
        "ALERT_WEBHOOK_SECRET=${NOT_EXPANDED}$1\n"
        "DESK_IDLE_MINUTES=45\n"
    )
    forget_afterwards(monkeypatch, "DESK_AGENTS", "ALERT_WEBHOOK_SECRET")
    monkeypatch.setenv("DESK_IDLE_MINUTES", "10")
    assert load_env_file(env_file)
    assert os.environ["DESK_AGENTS"] == f"alice:{password_hash}"
    assert os.environ["ALERT_WEBHOOK_SECRET"] == "${NOT_EXPANDED}$1", "values are literal"
    settings = DeskSettings.from_env()
    assert check_password("correct horse battery", settings.agents["alice"]), "the agent can sign in"
    assert settings.idle_minutes == 10, "a variable already in the environment is not overridden"


def test_every_bad_variable_is_named_at_once_and_no_secret_is_shown():
    bad = {
        "DATABASE_URL": "mysql://support:hunter2@db/support",
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": "0",
        "REDIS_URL": "127.0.0.1:6379",
        "RASA_PORT": "http",
        "ACTION_ENDPOINT_URL": "actions:5055",
        "TELEGRAM_WEBHOOK_URL": "bot.example.com/webhooks/telegram/webhook",
        "TELEGRAM_MAX_CONCURRENT_TURNS": "0",
        "X_MODE": "stream",
        "X_PAGE_SIZE": "500",
        "DESK_AGENTS": "alice:pbkdf2_sha25600000salt",  # what make's $ expansion left of a hash
        "DESK_COOKIE_SECURE": "ja",
        "DESK_IDLE_MINUTES": "soon",
        "DESK_SLA_MINUTES": "P9:5",
        "TELEGRAM_AGENT_IDS": "4242,bob",
        "NLU_EMBEDDING_THREADS": "0",
    }
    with pytest.raises(SettingsError) as raised:
        check_environment(bad)
    assert set(raised.value.problems) == set(bad)
    message = str(raised.value)
    assert all(name in message for name in bad)
    assert "hunter2" not in message and "'http' is not a whole number" in message
    assert "hash_password" in raised.value.problems["DESK_AGENTS"]


def test_a_plain_http_webhook_and_a_sqlite_file_in_a_missing_folder_are_refused(tmp_path):
    with pytest.raises(SettingsError) as raised:
        check_environment(
            {
                "TELEGRAM_WEBHOOK_URL": "http://bot.example.com/webhooks/telegram/webhook",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-folder' / 'support.db'}",
            }
        )
    problems = raised.value.problems
    assert set(problems) == {"TELEGRAM_WEBHOOK_URL", "DATABASE_URL"}
    assert "https://" in problems["TELEGRAM_WEBHOOK_URL"] and "does not exist" in problems["DATABASE_URL"]
    check_environment(  # a local fake Bot API may call plain HTTP on loopback; an existing folder is fine
        {
            "TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:5005/webhooks/telegram/webhook",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'support.db'}",
        }
    )


def test_env_example_is_valid_and_lists_every_variable_the_code_reads():
    example = dotenv.dotenv_values(PROJECT_ROOT / ".env.example")
    check_environment({name: value or "" for name, value in example.items()})
    sources = [*(PROJECT_ROOT / "bot").rglob("*.py"), *(PROJECT_ROOT / "connectors").rglob("*.py")]
    read = {name for path in sources for name in READ_VARIABLE.findall(path.read_text())}
    assert {"DATABASE_URL", "DESK_AGENTS", "NLU_EMBEDDING_CACHE_DIR", "RASA_PORT"} <= read
    assert read <= set(example), f"missing from .env.example: {sorted(read - set(example))}"


def test_a_process_started_with_bad_settings_exits_naming_them_and_starts_nothing(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'support.db'}",
        "DESK_PORT": "eighty",
        "X_MODE": "stream",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.runtime.serve", "desk"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == INVALID_SETTINGS_STATUS, result.stderr[-2000:]
    assert "DESK_PORT: 'eighty' is not a whole number" in result.stderr
    assert "X_MODE: 'stream' must be one of poll, webhook" in result.stderr
    assert not (tmp_path / "support.db").exists()


def test_several_rasa_servers_without_redis_are_refused_at_start():
    with pytest.raises(SettingsError, match="RASA_INSTANCES"):
        check_environment({"RASA_INSTANCES": "2"})
    check_environment({"RASA_INSTANCES": "2", "REDIS_URL": "redis://127.0.0.1:6379/0"})


def test_ports_that_would_collide_are_named_before_anything_starts():
    with pytest.raises(SettingsError) as refused:
        check_environment({"RASA_PORT": "15005", "ACTIONS_PORT": "15005", "DESK_PORT": "15005"})
    assert {"ACTIONS_PORT", "DESK_PORT"} <= set(refused.value.problems)
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    with pytest.raises(SettingsError, match="RASA_INSTANCES"):
        check_environment({**redis, "RASA_INSTANCES": "3", "RASA_PORT": "65534"})
    with pytest.raises(SettingsError, match="ACTIONS_PORT"):
        check_environment({**redis, "RASA_INSTANCES": "2", "RASA_PORT": "15005", "ACTIONS_PORT": "15006"})
    check_environment({**redis, "RASA_INSTANCES": "2", "RASA_PORT": "15005", "ACTIONS_PORT": "15055"})
