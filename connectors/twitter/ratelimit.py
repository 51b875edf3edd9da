"""Pace requests per X endpoint from the plan's limits and the ``x-rate-limit-*`` headers.

X answers every request with how many calls are left in the window and when it resets;
spreading the last few evenly (and stopping one short) keeps the poller clear of 429s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass
class _Window:
    remaining: int | None = None
    reset_at: float | None = None
    last_request: float | None = None


class RateLimiter:
    """One window per endpoint; ``wait`` before a request, ``observe`` its response headers.

    With ``slow_below`` or fewer calls left, the rest are spread over the window; the last
    ``reserve`` calls are kept back until it resets.
    """

    def __init__(
        self,
        *,
        sleep: Sleep,
        clock: Clock,
        min_intervals: Mapping[str, float] | None = None,
        reserve: int = 1,
        slow_below: int = 5,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._min_intervals = dict(min_intervals or {})
        self._reserve = reserve
        self._slow_below = slow_below
        self._windows: dict[str, _Window] = {}

    def delay(self, endpoint: str) -> float:
        """Seconds to wait before the next request to ``endpoint``."""
        window = self._windows.setdefault(endpoint, _Window())
        now = self._clock()
        delay = 0.0
        if window.last_request is not None:
            delay = window.last_request + self._min_intervals.get(endpoint, 0.0) - now
        if window.remaining is not None and window.reset_at is not None and window.reset_at > now:
            left = window.reset_at - now
            if window.remaining <= self._reserve:
                delay = max(delay, left)
            elif window.remaining <= self._slow_below and window.last_request is not None:
                delay = max(delay, window.last_request + left / window.remaining - now)
        return max(delay, 0.0)

    async def wait(self, endpoint: str) -> None:
        delay = self.delay(endpoint)
        if delay > 0:
            logger.info("pacing X %s: waiting %.1fs for the rate-limit window", endpoint, delay)
            await self._sleep(delay)
        self._windows[endpoint].last_request = self._clock()

    def observe(self, endpoint: str, headers: Mapping[str, str]) -> None:
        window = self._windows.setdefault(endpoint, _Window())
        remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
        if remaining is not None and remaining.isdigit():
            window.remaining = int(remaining)
        if reset is not None and reset.isdigit():
            window.reset_at = float(reset)

    def exhausted(self, endpoint: str, reset_at: float | None) -> float:
        """Record a 429; return the seconds until the window resets."""
        window = self._windows.setdefault(endpoint, _Window())
        window.remaining = 0
        if reset_at is not None:
            window.reset_at = reset_at
        return max((window.reset_at or self._clock()) - self._clock(), 0.0)
