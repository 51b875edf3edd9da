"""How the channel is wired into the project: credentials.yml, the Rasa-free sender, the domain."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from rasa.shared.utils.common import class_from_module_path

from bot.settings import PROJECT_ROOT
from connectors.telegram.channel import TelegramInput
from connectors.telegram.handler import GROUP_MOVED, RESPONSES
from connectors.telegram.settings import TelegramSettings


def test_credentials_name_the_channel_and_rasa_can_load_it(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
    assert "connectors.telegram.TelegramInput" in credentials
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    channel = class_from_module_path("connectors.telegram.TelegramInput").from_credentials(None)
    assert isinstance(channel, TelegramInput) and channel.name() == "telegram"
    assert not channel.settings.enabled and channel.url_prefix() == "telegram"


def test_the_sender_imports_without_rasa() -> None:
    """The agent desk sends through ``sender`` and must not pull in Rasa."""
    code = (
        "import sys, connectors.telegram.sender, connectors.telegram.storage;"
        "loaded = [m for m in sys.modules if m == 'rasa' or m.startswith('rasa.')];"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT, timeout=120)


def test_settings_derive_the_file_url_and_resolve_the_attachment_dir() -> None:
    settings = TelegramSettings.from_env({"TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"})
    assert settings.file_base_url == "http://127.0.0.1:9/file/bot"
    assert settings.attachment_dir == PROJECT_ROOT / "var" / "attachments"
    assert not settings.enabled and settings.webhook_url is None


def test_the_domain_has_every_response_the_channel_sends() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "bot" / "domain.yml").read_text())
    responses = domain.get("responses", {})
    assert [name for name in RESPONSES if name not in responses] == []
    assert all("{link}" in v["text"] for v in responses[GROUP_MOVED])
