"""Keep within Telegram's flood limits without one busy chat holding up the others.

PTB's ``AIORateLimiter`` pauses *every* request after a ``RetryAfter``; a support bot talks
to many customers at once, so here a 429 pauses only the chat it was about. Telegram counts
the overall limit for the bot, not per process: several servers share it through Redis.
"typing..." only takes budget no message of this process waits for: in a backlog the replies go first.
A bot that pays for broadcasts sends a message past its free budget at once, as a paid one,
within a budget of its own: only what the free budget cannot carry costs Stars.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram.error import BadRequest, RetryAfter
from telegram.ext import BaseRateLimiter

logger = logging.getLogger(__name__)

# Requests that put a message into a chat; callback answers and file look-ups
# only count towards the overall limit.
MAX_TRACKED_CHATS = 10_000
_UNTHROTTLED_PER_CHAT = frozenset({"answerCallbackQuery", "getFile", "getMe"})
# Cosmetic requests: sent only when the overall budget has room at once, skipped otherwise.
_ONLY_WITH_SPARE_BUDGET = frozenset({"sendChatAction"})
# The bot's messages that may go past the free budget as paid broadcasts (Bot API 7.11).
_PAID_BROADCAST_ENDPOINTS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
PAID_BROADCAST = "allow_paid_broadcast"
PAID_REFUSED_PAUSE_SECONDS = 60.0  # after Telegram refused a paid broadcast (no Stars left), free budget only


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``period`` seconds; waiters go first come, first served."""

    def __init__(self, limit: int, period: float) -> None:
        self._limit = limit
        self._period = period
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self._take_now()) > 0:
                await asyncio.sleep(wait)

    async def try_acquire(self) -> bool:
        """Acquire only if nobody waits and the window has room now; never waits."""
        return not self._lock.locked() and self._take_now() == 0

    def _take_now(self) -> float:
        """0 when an acquisition fits now (recorded), else the seconds until the oldest leaves the window."""
        now = time.monotonic()
        while self._times and self._times[0] <= now - self._period:
            self._times.popleft()
        if len(self._times) < self._limit:
            self._times.append(now)
            return 0.0
        return self._times[0] + self._period - now


class Window(Protocol):
    async def acquire(self) -> None: ...

    async def try_acquire(self) -> bool: ...


# The bot's sends of the last second, by Redis's clock (every server reads the same one), as a
# sorted set of send times: 0 when this send fits (and is recorded), else the microseconds until
# the oldest send leaves the window.
_TAKE_ONE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], t, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - t)
"""
REDIS_PAUSE_SECONDS = 30.0  # after Redis failed to answer, this process paces itself that long before asking again


class SharedWindow:
    """At most ``limit`` acquisitions in any second for every process using ``key``, counted in Redis.

    One waiter per process asks Redis at a time (first come, first served here too). When
    Redis does not answer, this process's own window stands in for ``REDIS_PAUSE_SECONDS``
    before Redis is asked again, so a hung Redis costs one timeout, not one per send; the
    sends go on, and a 429 Telegram may then answer is retried for its chat.
    """

    def __init__(self, client: Redis, key: str, limit: int, fallback: SlidingWindow, period: float = 1.0) -> None:
        self._client = client
        self._key = key
        self._limit = limit
        self._window_us = round(period * 1_000_000)
        self._fallback = fallback
        self._take_one = client.register_script(_TAKE_ONE)
        self._lock = asyncio.Lock()
        self._sends = itertools.count()
        self._member = f"{uuid.uuid4().hex}:"  # this process's sends, told apart from other servers'
        self._on_own_until = 0.0
        self._waiting = 0  # sends of this process in ``acquire``: they wait for room, or will

    async def acquire(self) -> None:
        self._waiting += 1
        try:
            async with self._lock:
                while time.monotonic() >= self._on_own_until:
                    wait_us = await self._take_one_in_redis()
                    if wait_us is None:
                        break
                    if wait_us == 0:
                        return
                    await asyncio.sleep(wait_us / 1_000_000)
        finally:
            self._waiting -= 1
        await self._fallback.acquire()

    async def try_acquire(self) -> bool:
        """Acquire only if no send of this process waits and the bot's budget has room now.

        Never waits for room; only for another ``try_acquire``'s round trip to Redis (held
        behind it, a send that found room would count as one that found none).
        """
        if self._waiting:
            return False
        async with self._lock:
            if time.monotonic() < self._on_own_until or (wait_us := await self._take_one_in_redis()) is None:
                return await self._fallback.try_acquire()
            return wait_us == 0

    async def _take_one_in_redis(self) -> int | None:
        """0 when a send fits now (recorded), else microseconds to wait; None when Redis did not answer."""
        try:
            return int(
                await self._take_one(
                    keys=[self._key], args=[self._limit, self._window_us, f"{self._member}{next(self._sends)}"]
                )
            )
        except (RedisError, OSError, asyncio.TimeoutError):
            pause = REDIS_PAUSE_SECONDS
            logger.warning("Redis did not answer; this server paces Telegram sends on its own for %.0fs", pause)
            self._on_own_until = time.monotonic() + pause
            return None

    async def close(self) -> None:
        await self._client.close()


class _ChatState:
    """One chat's send window and the moment a 429 lets it send again."""

    def __init__(self, interval: float) -> None:
        self.window = SlidingWindow(1, interval)
        self.paused_until = 0.0
        self.lock = asyncio.Lock()


class PerChatRateLimiter(BaseRateLimiter[int]):
    """About 1 message/s per chat, 20/min per group, 30/s overall; ``RetryAfter`` pauses one chat.

    ``rate_limit_args`` is the number of ``RetryAfter`` retries for that request (default
    ``max_retries``). Only ``RetryAfter`` is retried: a timeout may have been delivered, so it
    is raised to the caller, who must not resend blindly. A paid broadcast Telegram refuses
    with a 400 is sent again unpaid; when that goes through, the refusal was the payment's
    (the bot's Stars ran out): logged, and no send pays for ``PAID_REFUSED_PAUSE_SECONDS``.
    """

    def __init__(
        self,
        *,
        per_chat_interval: float = 1.0,
        group_limit: int = 20,
        group_period: float = 60.0,
        overall_limit: int = 30,
        overall_period: float = 1.0,
        max_retries: int = 3,
        overall: Window | None = None,
        paid: Window | None = None,
    ) -> None:
        """``overall``: the bot's budget when it is shared (``SharedWindow``); else this process's own.

        ``paid``: the budget of paid broadcasts past it; None when the bot does not pay for them.
        """
        self._per_chat_interval = per_chat_interval
        self._group_limit = group_limit
        self._group_period = group_period
        self._overall = overall or SlidingWindow(overall_limit, overall_period)
        self._paid = paid
        self._paid_refused_until = 0.0
        self._max_retries = max_retries
        self._chats: dict[str, _ChatState] = {}
        self._groups: dict[str, SlidingWindow] = {}

    async def initialize(self) -> None:
        """Nothing to open: the limiter is plain in-memory state."""

    async def shutdown(self) -> None:
        """Forget per-chat state, so a restarted bot starts clean; close a shared budget's connection."""
        self._chats.clear()
        self._groups.clear()
        for window in (self._overall, self._paid):
            if isinstance(window, SharedWindow):
                await window.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the chat, its group and the overall budget, then call; retry only on 429."""
        retries = self._max_retries if rate_limit_args is None else rate_limit_args
        if endpoint in _ONLY_WITH_SPARE_BUDGET:
            if not await self._overall.try_acquire():
                logger.debug("%s skipped: the send budget has no room to spare", endpoint)
                return False  # not shown (Telegram answers True): the customer sees the reply sooner instead
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        if chat_id is None or endpoint in _UNTHROTTLED_PER_CHAT:
            return await self._with_retries(callback, args, kwargs, None, retries, endpoint, data)
        key = str(chat_id)
        if key not in self._chats and len(self._chats) >= MAX_TRACKED_CHATS:
            self._forget_idle_chats()
        state = self._chats.setdefault(key, _ChatState(self._per_chat_interval))
        async with state.lock:  # one request at a time per chat keeps the chat's order
            return await self._with_retries(
                callback, args, kwargs, state, retries, endpoint, data, group=_is_group(chat_id)
            )

    def _forget_idle_chats(self) -> None:
        """Drop the state of chats that are neither sending nor paused, so memory stays bounded."""
        now = time.monotonic()
        for key in [k for k, state in self._chats.items() if not state.lock.locked() and state.paused_until <= now]:
            del self._chats[key]
        self._groups = {k: v for k, v in self._groups.items() if k in self._chats}

    async def _with_retries(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        state: _ChatState | None,
        retries: int,
        endpoint: str,
        data: dict[str, Any],
        group: str | None = None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """``data`` is the request's own parameters (in ``args`` too): a paid send is marked there."""
        attempt, refused = 0, None
        while True:
            if state is not None:
                await asyncio.sleep(max(0.0, state.paused_until - time.monotonic()))
                await state.window.acquire()
                if group is not None:
                    await self._groups.setdefault(group, SlidingWindow(self._group_limit, self._group_period)).acquire()
            paid = await self._take_budget(endpoint, data, may_pay=refused is None)
            try:
                result = await callback(*args, **kwargs)
                if refused is not None:  # refused paid, taken unpaid: it was the payment (the bot's Stars ran out)
                    logger.error("Telegram refused a paid broadcast (%s): messages wait for the free budget for %.0fs",
                                 refused, PAID_REFUSED_PAUSE_SECONDS)
                    self._paid_refused_until = time.monotonic() + PAID_REFUSED_PAUSE_SECONDS
                return result
            except BadRequest as exc:
                if not paid:
                    raise
                refused = exc  # sent again unpaid: the same refusal then is the message's, not the payment's
            except RetryAfter as exc:
                delay = retry_seconds(exc)
                if attempt == retries:
                    raise
                attempt += 1
                logger.info("Telegram asked to wait %.1fs before %s (attempt %d)", delay, endpoint, attempt)
                if state is not None:
                    state.paused_until = time.monotonic() + delay
                else:
                    await asyncio.sleep(delay)
            finally:
                if paid:
                    del data[PAID_BROADCAST]  # the next try takes its budget anew

    async def _take_budget(self, endpoint: str, data: dict[str, Any], *, may_pay: bool) -> bool:
        """Wait for the free budget, or mark a message paid when that budget is full and the paid one is not.

        Returns whether the request goes as a paid broadcast.
        """
        may_pay = may_pay and endpoint in _PAID_BROADCAST_ENDPOINTS and PAID_BROADCAST not in data
        paid = self._paid if may_pay and time.monotonic() >= self._paid_refused_until else None
        if paid is not None:
            if await self._overall.try_acquire():
                return False
            if await paid.try_acquire():
                data[PAID_BROADCAST] = True
                return True
        await self._overall.acquire()
        return False


def _is_group(chat_id: Any) -> str | None:
    """Group and channel ids are negative (or ``@username`` strings)."""
    with contextlib.suppress(TypeError, ValueError):
        return str(chat_id) if int(chat_id) < 0 else None
    return str(chat_id) if isinstance(chat_id, str) else None


def retry_seconds(exc: RetryAfter) -> float:
    """The wait a 429 asked for, in seconds."""
    value = exc.retry_after
    return float(value if isinstance(value, int | float) else value.total_seconds())
