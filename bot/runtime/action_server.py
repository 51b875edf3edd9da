"""The action server's additions: ``/metrics``, call counts and times, request ids, the help center's warm-up, 503s.

A call the database could not serve is answered 503 (the Rasa server retries it).

The help center is prepared once the server is up, not in the first customer's turn.

rasa_sdk calls its plugins' ``attach_sanic_app_extensions`` hook before it serves; ``install``
registers this module as one (``bot.runtime.launch`` does, for ``rasa run actions``). The
request id is the id of the user message the action runs for, the same id the Rasa server
logged that turn under.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import zlib
from typing import Any

import pluggy
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.actions import help_access
from bot.cases.database import DATABASE_UNAVAILABLE
from bot.metrics import actions
from bot.metrics.exposition import CONTENT_TYPE, may_read, render
from bot.metrics.settings import MetricsSettings
from bot.runtime import log_context

ACTIONS_PACKAGE = "bot.actions"
WEBHOOK = "/webhook"
hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)


def install() -> None:
    """Register this module's hook with rasa_sdk (idempotent)."""
    manager = plugin_manager()
    module = sys.modules[__name__]
    if not manager.is_registered(module):
        manager.register(module)


@hookimpl  # type: ignore[misc]
def attach_sanic_app_extensions(app: Sanic) -> None:
    """Add the metrics route, the middleware that counts and names each action call, and the help-center warm-up."""
    settings = MetricsSettings.from_env()
    known = frozenset(_registered_actions())

    @app.middleware("request")
    async def begin(request: Request) -> None:
        if request.path != WEBHOOK:
            log_context.bind(None)
            return
        call = _action_call(request)
        name = call.get("next_action")
        request.ctx.action = name if name in known else None
        request.ctx.started = time.perf_counter()
        latest = (call.get("tracker") or {}).get("latest_message") or {}
        log_context.bind(log_context.safe(latest.get("message_id")))

    @app.middleware("response")
    async def end(request: Request, reply: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if started is not None:
            actions.called(request.ctx.action, reply.status, time.perf_counter() - started)
        log_context.bind(None)

    @app.exception(*DATABASE_UNAVAILABLE)
    async def database_unavailable(request: Request, error: Exception) -> HTTPResponse:
        """503, not rasa_sdk's 500: the Rasa server retries the call, and its turn is never set aside for it."""
        logger.warning("action %s: the database is unavailable (%s)", getattr(request.ctx, "action", None), error)
        return response.json({"error": "database unavailable"}, status=503)

    async def prepare_help_center(app: Sanic, _loop: Any) -> None:
        app.add_task(asyncio.to_thread(help_access.warm_up))

    app.register_listener(prepare_help_center, "after_server_start")

    @app.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        if not may_read(request.ip, request.headers, settings.allowed_networks):
            return response.text("metrics are served to METRICS_ALLOWED_NETWORKS only", status=403)
        return response.raw(render(), headers={"Content-Type": CONTENT_TYPE})


def _registered_actions() -> list[str]:
    """The action names this server runs: only these become label values.

    rasa_sdk has logged each one as it registered them; this second registration, which only
    reads the names, is kept quiet.
    """
    executor_log = logging.getLogger("rasa_sdk.executor")
    level = executor_log.level
    executor_log.setLevel(logging.WARNING)
    try:
        executor = ActionExecutor()
        executor.register_package(ACTIONS_PACKAGE)
    finally:
        executor_log.setLevel(level)
    return list(executor.actions)


def _action_call(request: Request) -> dict[str, Any]:
    """The call's JSON body as rasa_sdk reads it (deflated when Rasa compresses it); {} if unreadable."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = json.loads(zlib.decompress(request.body))
        else:
            body = request.json
    except Exception:  # rasa_sdk answers the bad body itself; it is counted as such
        return {}
    return body if isinstance(body, dict) else {}
