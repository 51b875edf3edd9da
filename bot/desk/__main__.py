"""``python -m bot.desk --port 8080``: the agent desk, alert dispatcher and agents' group bot.

The app is imported only after ``use_worker_files`` has dropped an inherited
``PROMETHEUS_MULTIPROC_DIR``: the desk is one process and counts in memory.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from aiohttp import web

from bot.metrics import workers
from bot.runtime import log_secrets, logs
from bot.runtime.thread_switching import switch_threads_sooner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default=None, help="default: DESK_HOST or 127.0.0.1")
    parser.add_argument("--logging-config-file", type=Path, default=logs.LOG_CONFIG, help="default: logging.yml")
    args = parser.parse_args()
    switch_threads_sooner()  # its database calls run in threads too
    log_secrets.install()
    logs.set_service("desk")
    logs.configure(args.logging_config_file)
    workers.use_worker_files(1)
    from bot.desk.app import create_app
    from bot.desk.health import RequestIdAccessLogger
    from bot.desk.settings import NO_AGENTS_HINT, DeskSettings
    from bot.runtime.configuration import require_valid_environment

    require_valid_environment()

    settings = DeskSettings.from_env()
    if not settings.agents:
        logging.getLogger(__name__).warning(NO_AGENTS_HINT)
    web.run_app(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port,
        access_log_class=RequestIdAccessLogger,
    )


if __name__ == "__main__":
    main()
