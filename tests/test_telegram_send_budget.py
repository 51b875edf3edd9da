"""Telegram's ~30 sends a second are the bot's, not each server's: several servers count them in Redis."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from connectors.telegram.ratelimit import SharedWindow, SlidingWindow
from connectors.telegram.sender import _shared_budget
from connectors.telegram.settings import TelegramSettings

LIMIT, SENDS = 4, 13  # 13 sends at 4 a second need 4 of Redis's seconds, so more than 2 s of waiting


def server_window(redis_url: str, key: str) -> SharedWindow:
    return SharedWindow(Redis.from_url(redis_url), key, LIMIT, SlidingWindow(LIMIT, 1.0))


async def test_two_servers_share_one_budget(redis_url: str) -> None:
    key = f"test:sends:{time.monotonic_ns()}"
    servers = [server_window(redis_url, key), server_window(redis_url, key)]
    started = time.monotonic()
    done: list[float] = []

    async def send(window: SharedWindow) -> None:
        await asyncio.wait_for(window.acquire(), timeout=10)
        done.append(time.monotonic() - started)

    await asyncio.gather(*(send(servers[i % 2]) for i in range(SENDS)))
    for window in servers:
        await window.close()
    # Shared: 4 in each of Redis's seconds, so the 13th waits past a third boundary. Each server
    # on its own would allow 4 a second, 8 together, and all 13 within about 1 s.
    assert len(done) == SENDS and max(done) > 2.0


async def test_an_unreachable_redis_leaves_each_server_its_own_window() -> None:
    window = SharedWindow(
        Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5), "test:sends:down", 2, SlidingWindow(2, 1.0)
    )
    started = time.monotonic()
    for _ in range(3):  # the third waits out this process's own second
        await asyncio.wait_for(window.acquire(), timeout=10)
    assert 0.9 < time.monotonic() - started < 5
    await window.close()


def test_the_budget_is_shared_only_where_redis_is_set() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "7011112222:secret-part"}
    assert _shared_budget(TelegramSettings.from_env(base)) is None
    shared = _shared_budget(TelegramSettings.from_env({**base, "REDIS_URL": "redis://127.0.0.1:6379/0"}))
    assert shared is not None and "secret-part" not in shared._key and shared._key.endswith(":7011112222")
