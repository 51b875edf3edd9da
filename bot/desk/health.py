"""The desk's operations endpoints: ``/healthz`` (alive), ``/readyz`` (can work), ``/metrics``; and request ids.

``/metrics`` answers only the networks in ``METRICS_ALLOWED_NETWORKS`` (loopback by
default). Besides the desk's own counters it carries the gauges read from the shared
database (outboxes, inboxes, leases, the agents' queue): the desk is the one process that
serves them, so they are counted once however many Rasa servers run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from bot.cases.database import in_thread
from bot.desk.context import DESK
from bot.metrics.backlog import Backlog, case_event_outbox, read_backlog
from bot.metrics.exposition import CONTENT_TYPE, may_read, render
from bot.metrics.gauges import BacklogCollector
from bot.metrics.settings import MetricsSettings
from bot.runtime import log_context, readiness

logger = logging.getLogger(__name__)

METRICS = web.AppKey("metrics_settings", MetricsSettings)
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = "request_id"
PROBES = ("/healthz", "/readyz", "/metrics")  # asked every few seconds: a line each would drown the log
SCRAPE_TIMEOUT_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every line logged while handling the request carries its id; the response names it too."""
    with log_context.bound(log_context.new_id("desk")) as request_id:
        assert request_id is not None
        request[REQUEST_ID_KEY] = request_id  # for the access line, logged after this middleware returns
        try:
            response = await handler(request)
        except web.HTTPException as error:
            error.headers[REQUEST_ID_HEADER] = request_id
            raise
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdAccessLogger(AccessLogger):
    """aiohttp's access line with the request's id; a successful probe is not logged."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if request.path in PROBES and response.status < 300:
            return
        with log_context.bound(request.get(REQUEST_ID_KEY)):
            super().log(request, response, time)


async def healthz(request: web.Request) -> web.StreamResponse:
    """The process answers (its event loop runs); nothing else is checked."""
    return web.json_response({"alive": True})


async def readyz(request: web.Request) -> web.StreamResponse:
    context = request.app[DESK]
    destinations = context.dispatcher.destination_names
    result = await readiness.assess(
        context.engine,
        leases=context.leases,
        outboxes=lambda conn, now: [case_event_outbox(conn, name, now) for name in destinations],
        stuck_seconds=request.app[METRICS].outbox_stuck_seconds,
    )
    return web.json_response(result.body(), status=result.status)


async def metrics(request: web.Request) -> web.StreamResponse:
    settings = request.app[METRICS]
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    if not may_read(peer[0] if peer else None, request.headers, settings.allowed_networks):
        raise web.HTTPForbidden(text="metrics are served to METRICS_ALLOWED_NETWORKS only")
    context = request.app[DESK]
    backlog: Backlog | None
    try:
        backlog = await in_thread(
            SCRAPE_TIMEOUT_SECONDS,
            read_backlog,
            context.engine,
            context.dispatcher.destination_names,
            settings.chat_stuck_seconds,
            [lease.name for lease in context.leases],
            sla_minutes=context.settings.sla_minutes,
        )
    except Exception as error:
        logger.warning("metrics: the database did not answer: %s", error or type(error).__name__)
        backlog = None
    return web.Response(body=render(BacklogCollector(backlog)), headers={"Content-Type": CONTENT_TYPE})
