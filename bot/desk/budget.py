"""The agents' group's sending budget: a sliding minute, paced, its last few messages kept for P1 cases.

Telegram lets a bot post about 20 messages a minute in a group and answers more with a 429
and a wait of up to a minute. During an incident the P2-P4 alerts and their update lines
would spend the whole minute, and a theft report would wait behind them (the load bench saw
a P1 alert wait more than 45 s). Lower priorities therefore stop at ``per_minute -
kept_for_p1`` and wait for the window to move; P1 cases may use the rest.

A flood would still spend the minute in its first seconds and then wait out the rest of it.
So after ``burst`` messages in the window, messages are spaced ``60 / (allowed - burst)``
seconds apart (P1: 4 s with the defaults; P2-P4: 6 s), which never exceeds a priority's
share of the minute: a P1 is never more than one spacing from its send, and the dispatcher
puts every new case waiting by then into that one message.
The count lives in one desk process: with several, each keeps its own, and Telegram's 429
remains the backstop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from bot.cases.priorities import P1

WINDOW_SECONDS = 60.0


class SendBudget:
    def __init__(
        self,
        per_minute: int = 20,
        kept_for_p1: int = 5,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= kept_for_p1 < per_minute:
            raise ValueError(f"kept_for_p1 must be between 0 and per_minute - 1, got {kept_for_p1} of {per_minute}")
        if not 0 < burst < per_minute:
            raise ValueError(f"burst must be between 1 and per_minute - 1, got {burst} of {per_minute}")
        self._per_minute = per_minute
        self._kept_for_p1 = kept_for_p1
        self._burst = burst
        self._clock = clock
        self._sent: deque[float] = deque()

    def wait_seconds(self, priority: int) -> float:
        """0 when a message about a case of ``priority`` may go now, else the seconds until it may."""
        now = self._clock()
        self._leave_window(now)
        allowed = self._per_minute if priority == P1 else self._per_minute - self._kept_for_p1
        if len(self._sent) >= allowed:
            return self._sent[len(self._sent) - allowed] + WINDOW_SECONDS - now
        if len(self._sent) >= self._burst:
            spacing = WINDOW_SECONDS / (allowed - self._burst) if allowed > self._burst else WINDOW_SECONDS
            return max(0.0, self._sent[-1] + spacing - now)
        return 0.0

    @property
    def spaced(self) -> bool:
        """True once the burst is spent: messages are being spaced out, so cases queue up."""
        self._leave_window(self._clock())
        return len(self._sent) >= self._burst

    def _leave_window(self, now: float) -> None:
        """Forget the sends older than the sliding minute: what is left is the minute's count."""
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()

    def spend(self) -> None:
        """Count a message that was sent."""
        self._sent.append(self._clock())
