"""The fake Bot API of the tests (`tests/auxil/fake_telegram.py`), watched the way a load test needs.

Two changes for benchmarks: every `sendMessage` is also handed to listeners as it arrives (a
load generator waits on events instead of rescanning the call log), and a `setWebhook` does not
switch off `getUpdates` for every bot: on the real Bot API each bot has its own webhook, so the
customer bot in webhook mode leaves the agents' bot polling.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from tests.auxil.fake_telegram import FakeTelegram, private_message

Listener = Callable[[int, str, float], None]  # chat id, text, time.perf_counter() at arrival


class FakeBotApi(FakeTelegram):
    """`FakeTelegram` plus `sendMessage` listeners; webhook registrations are only recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[Listener] = []
        # A client that gives up mid-request (a cancelled typing action, a killed server) is normal here.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self.registered_webhooks: list[dict[str, Any]] = []

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.registered_webhooks.append(params)
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        now = time.perf_counter()
        for listener in self.listeners:
            listener(int(params["chat_id"]), str(params.get("text", "")), now)
        return await super()._m_sendMessage(params)


def text_update(update_id: int, chat_id: int, text: str, message_id: int) -> dict[str, Any]:
    """A customer's private text message as Telegram POSTs it to a webhook."""
    return {"update_id": update_id, "message": private_message(chat_id, text, message_id=message_id)}
