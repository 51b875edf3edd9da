"""Show a Telegram customer "typing..." while the agent who owns their case writes a reply.

The action goes straight to the customer bot's ``sendChatAction`` through the Telegram
sender, not through the reply outbox: it is cosmetic, lasts about five seconds, and is
worthless once late, so it is neither stored nor retried. The page reports keystrokes;
this keeps at most one action per case every ``every_seconds`` (per desk process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.cases.store import Case
from bot.desk.telegram_replies import telegram_chat_id
from connectors.telegram.sender import TelegramSender

TYPING_EVERY_SECONDS = 4.0  # Telegram shows the action for about 5 s

logger = logging.getLogger(__name__)


class CustomerTyping:
    """``shown(case)`` sends the typing action for a Telegram case unless one went out lately."""

    def __init__(
        self,
        sender: TelegramSender,
        *,
        every_seconds: float = TYPING_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._every = every_seconds
        self._clock = clock
        self._last: dict[str, float] = {}
        self._started = False
        self._start_lock = asyncio.Lock()

    async def shown(self, case: Case) -> bool:
        """Try the action now if the case's last try is older than the interval; whether it was shown.

        A try that was not shown (the send budget had no room to spare, Telegram failed) still
        holds the next one back: the agent's browser asks no more often, and a refusing or
        flooded Telegram is not asked again at every call.
        """
        now = self._clock()
        self._forget_before(now - self._every)
        if case.id in self._last:
            return False
        self._last[case.id] = now
        return await self._ready() and await self._sender.typing(telegram_chat_id(case.sender_id))

    async def stop(self) -> None:
        if self._started:
            await self._sender.stop()

    async def _ready(self) -> bool:
        """Start the customer bot's client on first use, so a Telegram outage never stops the desk starting."""
        async with self._start_lock:
            if not self._started:
                try:
                    await self._sender.start()
                except Exception:
                    logger.warning("the customer bot could not be reached for the typing action", exc_info=True)
                    return False
                self._started = True
        return True

    def _forget_before(self, moment: float) -> None:
        for case_id in [c for c, at in self._last.items() if at <= moment]:
            del self._last[case_id]
