"""The X channel inside Rasa's server: a mentions/DM poller (or Account Activity webhook).

Without credentials it stays idle: the webhook answers 503 and no poller starts. With
them, one process (holding the database lease) polls; every process can take webhooks.
Either way events are stored in the inbox first and every process's worker handles them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.cases.leases import LeaderLease
from bot.runtime.tasks import all_cancelled
from connectors.rasa_bridge import conversation_gate
from connectors.twitter.conversations import OnNewMessage, XConversations
from connectors.twitter.identity import CHANNEL
from connectors.twitter.inbox import XInbox
from connectors.twitter.poller import XPoller
from connectors.twitter.sender import XSender
from connectors.twitter.settings import XSettings
from connectors.twitter.state import XState
from connectors.twitter.webhook import (
    SIGNATURE_HEADER,
    Delivery,
    crc_response,
    crc_token_valid,
    parse_delivery,
    signature_valid,
)
from connectors.twitter.worker import XWorker

logger = logging.getLogger(__name__)

LEASE_NAME = "x_poller"


class XRuntime:
    """The channel's working parts for one server process, built once credentials exist."""

    def __init__(
        self, app: Sanic, on_new_message: OnNewMessage, settings: XSettings, session: aiohttp.ClientSession | None
    ) -> None:
        engine = conversation_gate(app).store.engine
        self.settings = settings
        self.state = XState(engine)
        self.inbox = XInbox(engine)
        self.sender = XSender(settings, session=session)
        self.conversations = XConversations(app, on_new_message, self.sender, self.state, settings)
        self.worker = XWorker(self.inbox, self.conversations, settings)
        lease = LeaderLease(engine, LEASE_NAME, max(settings.lease_seconds, 3 * settings.poll_seconds))
        self.poller_lease = None if settings.webhook_mode else lease  # some process must hold it
        self.poller = XPoller(
            settings,
            self.sender,
            self.state,
            self.inbox,
            lease,
            ready=self.conversations.ready,
            stored=self.worker.wake,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the worker, and the poller unless X pushes events by webhook."""
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self.worker.run(), name="x-worker"))
        if not self.settings.webhook_mode:
            self._tasks.append(asyncio.create_task(self.poller.run(), name="x-poller"))

    async def receive(self, delivery: Delivery) -> None:
        """Store a webhook delivery's events (X gets its 200 only after this), then have them handled."""
        await asyncio.to_thread(self.inbox.store, [*delivery.mentions, *delivery.dm_events])
        self.worker.wake()

    async def close(self) -> None:
        await all_cancelled(self._tasks)
        self._tasks.clear()
        await self.sender.close()


class TwitterInput(InputChannel):
    """Customers on X: public mentions get a safe invitation, DMs get the full assistant.

    ``session_factory`` gives the aiohttp session tweepy sends through (tests point it at a
    fake X); by default the sender opens its own.
    """

    def __init__(
        self,
        settings: XSettings | None = None,
        *,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
    ) -> None:
        self.settings = settings or XSettings.from_env()
        self._session_factory = session_factory

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def runtime(self, app: Sanic, on_new_message: OnNewMessage) -> XRuntime:
        """This process's runtime, built on first use."""
        runtime: XRuntime | None = getattr(app.ctx, "x_runtime", None)
        if runtime is None:
            session = self._session_factory() if self._session_factory else None
            runtime = XRuntime(app, on_new_message, self.settings, session)
            app.ctx.x_runtime = runtime
        return runtime

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        hook = Blueprint("twitter_webhook", __name__)
        settings = self.settings

        @hook.listener("after_server_start")
        async def start(app: Sanic, _loop: Any) -> None:
            if not settings.configured:
                logger.info("X channel idle: set X_BEARER_TOKEN, X_CONSUMER_*, X_ACCESS_TOKEN* and X_ACCOUNT_ID")
                return
            self.runtime(app, on_new_message).start()
            logger.info("X channel %s for @%s (%s)", settings.mode, settings.account_handle, settings.account_id)

        @hook.listener("before_server_stop")
        async def stop(app: Sanic, _loop: Any) -> None:
            runtime: XRuntime | None = getattr(app.ctx, "x_runtime", None)
            if runtime is not None:
                await runtime.close()

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if settings.configured else "idle"})

        @hook.route("/webhook", methods=["GET"])
        async def crc(request: Request) -> HTTPResponse:
            if not settings.configured:
                return response.json({"error": "X channel is not configured"}, status=503)
            if not settings.webhook_mode:
                return _webhooks_off()
            token = request.args.get("crc_token", "")
            if not crc_token_valid(token):
                return response.json({"error": "crc_token must be 1-128 characters of [A-Za-z0-9+/=_-]"}, status=400)
            return response.json(crc_response(settings.credentials.consumer_secret, token))

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not settings.configured:
                return response.json({"error": "X channel is not configured"}, status=503)
            if not settings.webhook_mode:
                return _webhooks_off()
            body = request.body or b""
            if not signature_valid(settings.credentials.consumer_secret, body, request.headers.get(SIGNATURE_HEADER)):
                return response.json({"error": "missing or wrong webhook signature"}, status=403)
            try:
                payload = json.loads(body)
                if not isinstance(payload, dict):
                    raise ValueError("body must be a JSON object")
                delivery = parse_delivery(payload, settings.account_id)
            except ValueError as exc:
                return response.json({"error": f"malformed delivery: {exc}"}, status=400)
            try:
                await self.runtime(request.app, on_new_message).receive(delivery)
            except Exception:  # not stored, so not acknowledged: X delivers it again
                logger.exception("could not store an X webhook delivery; answering 503 so X redelivers it")
                return response.json({"error": "delivery not stored, retry later"}, status=503)
            return response.json({"status": "ok"})

        return hook


def _webhooks_off() -> HTTPResponse:
    """In poll mode nothing may arrive by webhook: the poller is the only source of events."""
    return response.json({"error": "webhook deliveries are off; this deployment polls X (X_MODE=poll)"}, status=403)
