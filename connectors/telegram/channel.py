"""The Telegram customer channel inside Rasa's web server (``POST /webhooks/telegram/webhook``).

Without ``TELEGRAM_BOT_TOKEN`` the channel is idle: its routes answer 503 and nothing
connects to Telegram. With a token it registers its webhook (``TELEGRAM_WEBHOOK_URL``) or,
without one, polls ``getUpdates`` in the one process holding the database lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.cases.database import DATABASE_AWAY
from connectors.rasa_bridge import conversation_gate
from connectors.telegram.handler import TelegramUpdateHandler
from connectors.telegram.output import CHANNEL, TelegramOutput
from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.settings import TelegramSettings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramInput(InputChannel):
    """Customers on Telegram: webhook or polling, durable inbox, outbox, per-chat order."""

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.runtime: TelegramRuntime | None = None
        self._starting: asyncio.Task[None] | None = None

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """Settings come from the environment; ``credentials.yml`` only names the channel."""
        return cls(TelegramSettings.from_env())

    def get_output_channel(self) -> OutputChannel | None:
        """For Rasa's own sends outside a customer's turn (e.g. reminders, triggered intents)."""
        return TelegramOutput(self.runtime) if self.runtime is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("telegram_webhook", __name__)
        if not self.settings.enabled:
            return _idle(hook)

        @hook.listener("after_server_start")
        async def start(app: Sanic, _loop: Any) -> None:
            runtime = TelegramRuntime.create(self.settings, conversation_gate(app).store.engine)
            self.runtime = app.ctx.telegram_runtime = runtime  # the webhook stores updates from now on
            handler = TelegramUpdateHandler(app, runtime, on_new_message)
            self._starting = asyncio.create_task(_start_until_up(runtime, handler), name="telegram-start")

        @hook.listener("before_server_stop")
        async def stop(app: Sanic, _loop: Any) -> None:
            if self._starting is not None and not self._starting.done():
                self._starting.cancel()
            if self.runtime is not None:
                await self.runtime.stop()

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            runtime = self.runtime
            mode = "webhook" if self.settings.webhook_url else "polling"
            return response.json({"status": "ok" if runtime is not None else "starting", "mode": mode})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            runtime = self.runtime
            if runtime is None:
                return response.json({"error": "starting"}, status=503)  # Telegram retries later
            if not runtime.secret_matches(request.headers.get(SECRET_HEADER)):
                return response.json({"error": "wrong secret token"}, status=403)
            payload = _parse(request.body)
            if payload is None:
                return response.json({"error": "body must be a JSON update with an integer update_id"}, status=400)
            try:
                await runtime.receive(payload)
            except DATABASE_AWAY as error:  # Telegram delivers it again later
                logger.warning("Telegram update %s not stored, the database did not answer: %s",
                               payload["update_id"], error)
                return response.json({"error": "update not stored, retry later"}, status=503)
            return response.json({"ok": True})

        return hook


async def _start_until_up(runtime: TelegramRuntime, handler: TelegramUpdateHandler) -> None:
    """Connect to Telegram, retrying with back-off: Rasa keeps serving while Telegram is unreachable."""
    delay = 1.0
    while True:
        try:
            await runtime.start(handler)
        except Exception:
            logger.exception("Telegram channel could not start; retrying in %.0fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
        else:
            mode = "webhook" if runtime.settings.webhook_url else "polling"
            logger.info("Telegram channel started as @%s (%s)", runtime.sender.me.username, mode)
            return


MAX_UPDATE_ID = 2**63 - 1  # the inbox keys updates by a signed 64-bit integer
MAX_DEPTH = 32  # an update nests a few levels (a reply's message's entities); redaction walks it recursively


def _parse(body: bytes) -> dict[str, Any] | None:
    """The update as a dict, or None unless it is a JSON object with a storable integer ``update_id``."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or _deeper_than(payload, MAX_DEPTH):
        return None
    update_id = payload.get("update_id")
    if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:  # bool is an int subclass: refused
        return None
    return payload


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _idle(hook: Blueprint) -> Blueprint:
    """Routes of an unconfigured channel: they say so, and nothing else runs."""

    @hook.route("/", methods=["GET"])
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "disabled", "reason": "TELEGRAM_BOT_TOKEN is not set"}, status=503)

    @hook.route("/webhook", methods=["POST"])
    async def receive(request: Request) -> HTTPResponse:
        return response.json({"error": "Telegram channel is not configured"}, status=503)

    return hook
