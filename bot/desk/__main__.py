"""``python -m bot.desk --port 8080``: the agent desk, alert dispatcher and agents' group bot."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.desk.app import create_app
from bot.desk.settings import NO_AGENTS_HINT, DeskSettings
from bot.runtime import log_secrets
from bot.runtime.configuration import require_valid_environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default=None, help="default: DESK_HOST or 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_secrets.install()
    require_valid_environment()
    settings = DeskSettings.from_env()
    if not settings.agents:
        logging.getLogger(__name__).warning(NO_AGENTS_HINT)
    web.run_app(create_app(settings), host=args.host or settings.host, port=args.port)


if __name__ == "__main__":
    main()
