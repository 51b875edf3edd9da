"""``/healthz``, ``/readyz`` and ``/metrics`` on the Rasa server, carried by a Rasa input channel.

Rasa's server takes routes only from channels, so this channel (named in
``credentials.yml``) receives no messages: it serves the operations routes at the root,
where probes and Prometheus look. Rasa's port is public for the webhooks, so ``/metrics``
answers only ``METRICS_ALLOWED_NETWORKS`` (loopback by default). It also installs the
NLU timing (``nlu_timing``), since it is built in every Rasa server and only there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.cases.database import make_engine
from bot.cases.leases import LeaderLease
from bot.metrics.backlog import telegram_reply_outbox
from bot.metrics.exposition import CONTENT_TYPE, may_read, render
from bot.metrics.settings import MetricsSettings
from bot.runtime import nlu_timing, readiness
from bot.settings import Settings

CHANNEL = "ops"
CONNECT_GRACE_SECONDS = 30.0  # how long readiness waits for the Telegram channel to connect


class OpsInput(InputChannel):
    """The operations routes; no customer talks here."""

    def __init__(self, metrics: MetricsSettings, core: Settings) -> None:
        self.metrics = metrics
        self.core = core
        self._engine: Engine | None = None

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(MetricsSettings.from_env(), Settings.from_env())

    def url_prefix(self) -> str:
        return "/"  # Rasa joins it to "/webhooks/": the routes land at the root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("support_ops", __name__)
        nlu_timing.install()

        @hook.listener("before_server_stop")
        async def close(app: Sanic, _loop: Any) -> None:
            if self._engine is not None:
                self._engine.dispose()

        @hook.route("/healthz", methods=["GET"])
        async def healthz(request: Request) -> HTTPResponse:
            return response.json({"alive": True})

        @hook.route("/readyz", methods=["GET"])
        async def readyz(request: Request) -> HTTPResponse:
            result = await readiness.assess(
                self.engine,
                leases=leases_in_use(request.app),
                outboxes=lambda conn, now: [telegram_reply_outbox(conn, now)],
                stuck_seconds=self.metrics.outbox_stuck_seconds,
                model_loaded=model_loaded(request.app),
                **channel_state(request.app),
            )
            return response.json(result.body(), status=result.status)

        @hook.route("/metrics", methods=["GET"])
        async def metrics(request: Request) -> HTTPResponse:
            if not may_read(request.ip, request.headers, self.metrics.allowed_networks):
                return response.text("metrics are served to METRICS_ALLOWED_NETWORKS only", status=403)
            return response.raw(render(), headers={"Content-Type": CONTENT_TYPE})

        return hook

    @property
    def engine(self) -> Engine:
        """This channel's own small pool, made on first use (opening no connection until a check runs)."""
        if self._engine is None:
            self._engine = make_engine(self.core.database_url, timeouts=self.core.database_timeouts)
        return self._engine


def model_loaded(app: Sanic) -> bool:
    agent = getattr(app.ctx, "agent", None)
    return agent is not None and bool(agent.is_ready())


def leases_in_use(app: Sanic) -> list[LeaderLease]:
    """The pollers' leases of the channels running here (Telegram and X in polling mode)."""
    runtimes = (getattr(app.ctx, "telegram_runtime", None), getattr(app.ctx, "x_runtime", None))
    return [lease for runtime in runtimes if runtime is not None and (lease := runtime.poller_lease) is not None]


def channel_state(app: Sanic) -> dict[str, list[str]]:
    """A Telegram channel still connecting: unready for its first ``CONNECT_GRACE_SECONDS``, then a note.

    Telegram usually answers within a second, and "ready" should mean the bot reads its
    messages. Past the grace Telegram is down or unreachable: REST and the other channels
    serve meanwhile, so the process is ready and the note says what is missing.
    """
    runtime = getattr(app.ctx, "telegram_runtime", None)
    if runtime is None or runtime.started:
        return {"connecting": [], "notes": []}
    if time.monotonic() - runtime.created_at < CONNECT_GRACE_SECONDS:
        return {"connecting": ["the Telegram channel is connecting"], "notes": []}
    return {"connecting": [], "notes": ["Telegram is not connected yet: the channel keeps retrying (see the log)"]}
