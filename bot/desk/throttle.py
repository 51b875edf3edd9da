"""Sign-in throttling: a sliding window of attempts per client address and per typed name.

A throttled attempt is answered before any password is checked, so guessing costs the
guesser time and the desk no CPU. An attempt counts as it starts (parallel guesses cannot
all slip in before the first one fails) and a correct password takes its count back.

The counts live in the memory of one desk process: no database write per attempt, which a
flood would turn into load, and nothing of a typed name stays once its window has passed.
With several desk processes behind a load balancer each counts on its own, so a client
spread over N processes gets up to N times the allowance; routing by client address keeps
the per-address limit exact. Behind a reverse proxy every attempt comes from the proxy's
address, and the per-address limit becomes one limit for everybody.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

PER_ADDRESS = 20  # attempts in a window; a shared office address has room for a few typos each
PER_NAME = 5
WINDOW_SECONDS = 300.0
MAX_KEYS = 10_000  # addresses and names tracked at once; the oldest go first beyond it


class SignInThrottle:
    def __init__(
        self,
        *,
        per_address: int = PER_ADDRESS,
        per_name: int = PER_NAME,
        window_seconds: float = WINDOW_SECONDS,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"address": per_address, "name": per_name}
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._attempts: dict[tuple[str, str], deque[float]] = {}

    def attempt(self, address: str, name: str) -> float:
        """Count an attempt and return 0; or, over a limit, count nothing and return the seconds to wait."""
        now = self._clock()
        keys = [("address", address), ("name", name)]
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            return wait
        for key in keys:
            self._attempts.setdefault(key, deque()).append(now)
        self._forget_beyond_capacity(now)
        return 0.0

    def succeeded(self, address: str, name: str) -> None:
        """The password was right: the name starts afresh, and the attempt no longer counts against the address."""
        self._attempts.pop(("name", name), None)
        stamps = self._attempts.get(("address", address))
        if stamps:
            stamps.pop()

    def _wait(self, key: tuple[str, str], now: float) -> float:
        stamps = self._attempts.get(key)
        if stamps is None:
            return 0.0
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if not stamps:
            del self._attempts[key]
            return 0.0
        limit = self._limits[key[0]]
        return stamps[-limit] + self._window - now if len(stamps) >= limit else 0.0

    def _forget_beyond_capacity(self, now: float) -> None:
        """Bound the memory a flood of made-up names or addresses can take: expired keys first, then the oldest."""
        if len(self._attempts) <= self._max_keys:
            return
        for key in [key for key, stamps in self._attempts.items() if not stamps or stamps[-1] <= now - self._window]:
            del self._attempts[key]
        while len(self._attempts) > self._max_keys:
            del self._attempts[next(iter(self._attempts))]
