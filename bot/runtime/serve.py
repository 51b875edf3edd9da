"""``python -m bot.runtime.serve rasa|actions|desk``: one process of the stack, as a container or systemd starts it.

The same command line `make run` gives the process (``stack.commands``), after the same
start-up: ``.env`` read if present (the environment wins), every setting checked, and for
the Rasa server ``var/endpoints.yml`` written. The process then replaces this one, so
signals from the supervisor reach it directly. No training here: the Rasa server needs the
model of this checkout already built (``python -m bot.runtime.model``, done in the image),
and several instances starting together must not each train one. No database upgrade
either: ``python -m bot.migrate`` runs once before them (a one-shot service).
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.runtime.configuration import load_env_file, require_valid_environment
from bot.runtime.model import model_path
from bot.runtime.server_settings import ActionServerSettings, Ports
from bot.runtime.stack import commands, process_environment, write_endpoints
from bot.settings import PROJECT_ROOT, Settings

PROCESSES = ("rasa", "actions", "desk")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("process", choices=PROCESSES)
    args = parser.parse_args(argv)
    load_env_file()
    require_valid_environment()
    settings, ports = Settings.from_env(), Ports.from_env()
    model = model_path()
    if args.process == "rasa" and not model.exists():
        sys.exit(f"No model for this checkout ({model.name}): build it first with `python -m bot.runtime.model`.")
    endpoints = PROJECT_ROOT / "var" / "endpoints.yml"
    if args.process == "rasa":
        endpoints = write_endpoints(settings, ActionServerSettings.from_env().endpoint_url, endpoints.parent)
    command = commands(model, endpoints, ports)[args.process]
    os.chdir(PROJECT_ROOT)  # as under `make run`: relative SQLite paths are from the project root
    os.execve(command[0], command, process_environment(settings, ports))


if __name__ == "__main__":
    main()
