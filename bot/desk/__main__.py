"""``python -m bot.desk --port 8080``: the agent desk, alert dispatcher and agents' group bot."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.desk.app import create_app
from bot.desk.settings import DeskSettings
from bot.runtime import log_secrets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default=None, help="default: DESK_HOST or 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_secrets.install()
    settings = DeskSettings.from_env()
    web.run_app(create_app(settings), host=args.host or settings.host, port=args.port)


if __name__ == "__main__":
    main()
