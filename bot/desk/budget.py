"""The agents' group's sending budget: a sliding minute, its last few messages kept for P1 cases.

Telegram lets a bot post about 20 messages a minute in a group and answers more with a 429
and a wait of up to a minute. During an incident the P2-P4 alerts and their update lines
would spend the whole minute, and a theft report would wait behind them (the load bench saw
a P1 alert wait more than 45 s). Lower priorities therefore stop at ``per_minute -
kept_for_p1`` and wait for the window to move; P1 cases may use the rest. The count lives in
one desk process: with several, each keeps its own, and Telegram's 429 remains the backstop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from bot.cases.priorities import P1

WINDOW_SECONDS = 60.0


class SendBudget:
    def __init__(self, per_minute: int = 20, kept_for_p1: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= kept_for_p1 < per_minute:
            raise ValueError(f"kept_for_p1 must be between 0 and per_minute - 1, got {kept_for_p1} of {per_minute}")
        self._per_minute = per_minute
        self._kept_for_p1 = kept_for_p1
        self._clock = clock
        self._sent: deque[float] = deque()

    def wait_seconds(self, priority: int) -> float:
        """0 when a message about a case of ``priority`` may go now, else the seconds until it may."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()
        allowed = self._per_minute if priority == P1 else self._per_minute - self._kept_for_p1
        if len(self._sent) < allowed:
            return 0.0
        return self._sent[len(self._sent) - allowed] + WINDOW_SECONDS - now

    def spend(self) -> None:
        """Count a message that was sent."""
        self._sent.append(self._clock())
