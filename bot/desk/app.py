"""The desk's aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.desk.auth import add_security_headers, guard
from bot.desk.context import DESK, open_desk
from bot.desk.health import METRICS, request_ids
from bot.desk.help_pages import HELP_CENTER
from bot.desk.routes import setup_routes
from bot.desk.settings import DeskSettings
from bot.desk.views import errors
from bot.helpcenter.library import LiveLibrary
from bot.metrics.settings import MetricsSettings

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # what the Bot API accepts from a bot without a local server


def create_app(settings: DeskSettings, metrics: MetricsSettings | None = None) -> web.Application:
    """Build the app; the database, bots and background loops open on startup."""
    app = web.Application(middlewares=[request_ids, errors, guard], client_max_size=MAX_UPLOAD_BYTES)
    app[METRICS] = metrics or MetricsSettings.from_env()

    async def desk_context(app: web.Application) -> AsyncIterator[None]:
        async with open_desk(settings) as context:
            app[DESK] = context
            yield

    async def stop_background_loops(app: web.Application) -> None:
        # aiohttp waits for every running task before cleanup_ctx teardown: stop ours first.
        await app[DESK].stop_tasks()

    app[HELP_CENTER] = LiveLibrary(settings.helpcenter)  # reads its files at the first page asked for
    app.cleanup_ctx.append(desk_context)
    app.on_shutdown.append(stop_background_loops)  # type: ignore[arg-type]  # same stub problem
    app.on_response_prepare.append(add_security_headers)  # type: ignore[arg-type]  # aiohttp 3.9 stub types the signal wrong
    setup_routes(app)
    return app
