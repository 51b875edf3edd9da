"""Telegram's ~30 sends a second are the bot's, not each server's: several servers count them in Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from bot.environment import SettingsError
from connectors.telegram.ratelimit import PAID_BROADCAST, PerChatRateLimiter, SharedWindow, SlidingWindow
from connectors.telegram.sender import _paid_budget, _shared_budget
from connectors.telegram.settings import TelegramSettings

LIMIT, SENDS = 4, 13  # 13 sends at 4 in any second: the 13th waits 3 s


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
    # Shared: never more than 4 in any second, so the 13th goes 3 s after the first. Each server
    # on its own would allow 4 a second, 8 together, and all 13 within about 1 s.
    assert len(done) == SENDS and max(done) > 2.9
    assert all(sum(1 for u in done if t <= u < t + 0.9) <= LIMIT for t in done)  # no burst across a second's edge


async def test_a_hung_redis_costs_one_timeout_then_the_server_paces_itself(redis_url: str, proxy_to) -> None:
    proxy = proxy_to("127.0.0.1", 6379)
    client = Redis.from_url(proxy.route(redis_url), socket_timeout=0.5, socket_connect_timeout=0.5)
    window = SharedWindow(client, f"test:sends:{time.monotonic_ns()}", 100, SlidingWindow(100, 1.0))
    await asyncio.wait_for(window.acquire(), timeout=5)  # Redis answers
    proxy.blackhole()
    started = time.monotonic()
    for _ in range(8):  # one 0.5 s timeout, then this process's own window: no Redis call per send (8 x 0.5 s)
        await asyncio.wait_for(window.acquire(), timeout=10)
    assert 0.4 < time.monotonic() - started < 2.0
    proxy.forward()
    await window.close()


async def test_typing_takes_the_shared_budget_only_when_it_has_room_now(redis_url: str) -> None:
    key = f"test:sends:{time.monotonic_ns()}"
    other, this = server_window(redis_url, key), server_window(redis_url, key)
    assert await this.try_acquire(), "room: taken"
    for _ in range(LIMIT - 1):
        await asyncio.wait_for(other.acquire(), timeout=5)  # the other server's messages fill the second
    started = time.monotonic()
    assert not await this.try_acquire(), "the bot's budget is spent: no wait, nothing taken"
    assert time.monotonic() - started < 0.5
    await asyncio.wait_for(other.acquire(), timeout=5)  # the next message waits the second out, ahead of nothing
    assert time.monotonic() - started > 0.5
    for window in (other, this):
        await window.close()


async def test_with_room_in_the_shared_budget_no_message_pays(redis_url: str) -> None:
    """An outside review: another send's round trip to Redis made a message count the free budget full and pay."""
    free = SharedWindow(Redis.from_url(redis_url), f"test:sends:{time.monotonic_ns()}", 30, SlidingWindow(30, 1.0))
    limiter = PerChatRateLimiter(per_chat_interval=0.0, overall=free, paid=SlidingWindow(100, 1.0))
    paid: list[bool] = []

    async def send(endpoint: str, data: dict) -> bool:
        paid.append(PAID_BROADCAST in data)
        return True

    requests = [{"chat_id": chat} for chat in range(40)]
    await asyncio.gather(*(limiter.process_request(send, ("sendMessage", r), {}, "sendMessage", r, None)
                           for r in requests))  # fmt: skip
    await free.close()
    assert paid.count(False) == 30 and paid.count(True) == 10, "the free 30 first, then paid"


def test_the_budget_is_shared_only_where_redis_is_set() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "7011112222:secret-part"}
    assert _shared_budget(TelegramSettings.from_env(base), "sends", 30) is None
    shared = _shared_budget(TelegramSettings.from_env({**base, "REDIS_URL": "redis://127.0.0.1:6379/0"}), "sends", 30)
    assert shared is not None and shared._key == "support:telegram-sends:7011112222"  # never the token's secret


def test_paid_broadcasts_have_a_budget_only_when_the_bot_pays_for_them() -> None:
    """Their own window, shared through Redis as the free one is; a budget Telegram does not allow is refused."""
    base = {"TELEGRAM_BOT_TOKEN": "7011112222:secret-part"}
    assert _paid_budget(TelegramSettings.from_env(base)) is None
    alone = _paid_budget(TelegramSettings.from_env({**base, "TELEGRAM_PAID_SENDS_PER_SECOND": "970"}))
    assert isinstance(alone, SlidingWindow) and alone._limit == 970
    shared = _paid_budget(TelegramSettings.from_env(
        {**base, "TELEGRAM_PAID_SENDS_PER_SECOND": "200", "REDIS_URL": "redis://127.0.0.1:6379/0"}))
    assert isinstance(shared, SharedWindow)
    assert shared._key == "support:telegram-paid-sends:7011112222" and shared._limit == 200
    with pytest.raises(SettingsError, match="TELEGRAM_PAID_SENDS_PER_SECOND"):
        TelegramSettings.from_env({**base, "TELEGRAM_PAID_SENDS_PER_SECOND": "980"})  # 30 free: 1,010 in all
