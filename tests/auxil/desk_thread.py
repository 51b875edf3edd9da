"""The real desk app served from a thread of its own, for synchronous tests (Hypothesis) to call over TCP."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from bot.desk.app import create_app
from bot.desk.context import DESK, DeskContext
from bot.desk.settings import DeskSettings

T = TypeVar("T")


@dataclass
class ServedDesk:
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner
    port: int

    @property
    def context(self) -> DeskContext:
        return self.runner.app[DESK]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the desk's loop (the hub and the throttle live there) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)


@contextlib.contextmanager
def served_desk(env: dict[str, str]) -> Iterator[ServedDesk]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="desk", daemon=True)
    thread.start()

    async def start() -> ServedDesk:
        runner = web.AppRunner(create_app(DeskSettings.from_env(env)), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return ServedDesk(loop, runner, runner.addresses[0][1])

    desk = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    try:
        yield desk
    finally:
        desk.run(desk.runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
