"""Start-up configuration: ``.env`` read by python-dotenv, then every setting checked before anything starts.

``.env`` is read by Python, not by make or a shell: values are taken literally, so the ``$``
signs of a password hash survive. Variables already in the environment win over ``.env``,
so settings a deployment gives (systemd, compose, a test) are never overridden.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import dotenv

from bot.desk.settings import DeskSettings
from bot.environment import SettingsError, reading
from bot.lifecycle.settings import LifecycleSettings
from bot.metrics.settings import MetricsSettings
from bot.runtime.logs import JSON, TEXT
from bot.runtime.server_settings import HIGHEST_PORT, ActionServerSettings, Ports, nlu_in_child_process
from bot.settings import PROJECT_ROOT, Settings
from connectors.telegram.settings import TelegramSettings
from connectors.twitter.settings import XSettings

ENV_FILE = PROJECT_ROOT / ".env"
INVALID_SETTINGS_STATUS = 2


def load_env_file(path: Path = ENV_FILE) -> bool:
    """Add the variables of ``path`` the environment lacks, literally (no ``$`` expansion); False if there is none."""
    return dotenv.load_dotenv(path, override=False, interpolate=False, encoding="utf-8")


def check_environment(env: Mapping[str, str] | None = None) -> None:
    """Read every settings class once; one ``SettingsError`` names every bad variable of all of them."""
    with reading(env) as read:
        settings = Settings.from_env(env)
        ports = Ports.from_env(env)
        if ports.rasa_instances > 1 and not settings.redis_url:
            read.problem("RASA_INSTANCES", "more than 1 needs REDIS_URL (the Rasa servers share one conversation lock)")
        rasa_ports = ports.rasa_ports
        if rasa_ports[-1] > HIGHEST_PORT:
            read.problem("RASA_INSTANCES", f"{ports.rasa_instances} servers from RASA_PORT {ports.rasa} pass 65535")
        for name, port in (("ACTIONS_PORT", ports.actions), ("DESK_PORT", ports.desk)):
            if port in rasa_ports:
                read.problem(name, f"{port} is a Rasa server's port (RASA_PORT and RASA_INSTANCES)")
        if ports.actions == ports.desk:
            read.problem("DESK_PORT", f"{ports.desk} is the action server's port (ACTIONS_PORT)")
        ActionServerSettings.from_env(env)
        nlu_in_child_process(env)
        TelegramSettings.from_env(env)
        XSettings.from_env(env)
        DeskSettings.from_env(env)
        # bot.nlu_components.settings reads these in the Rasa server; checked here because that
        # package is an input of the model (changing it would mean training again).
        read.integer("NLU_EMBEDDING_THREADS", 1, minimum=1)
        MetricsSettings.from_env(env)
        LifecycleSettings.from_env(env)  # the desk reads it too; here also for the admin command
        if read.text("LOG_FORMAT", JSON).lower() not in (JSON, TEXT):
            read.problem("LOG_FORMAT", "must be json or text")


def require_valid_environment(env: Mapping[str, str] | None = None) -> None:
    """Exit (status 2) with the list of bad variables when any setting cannot be used."""
    try:
        check_environment(env)
    except SettingsError as error:
        print(f"{error}\nSee .env.example for what each variable means and takes.", file=sys.stderr)
        raise SystemExit(INVALID_SETTINGS_STATUS) from None
