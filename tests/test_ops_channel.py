"""The Rasa server's /healthz, /readyz and /metrics: the channel registered as Rasa registers it, served by Sanic.

Without a model loaded (the stack test covers a loaded one): readiness says so, and says
whether the database answers.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.cases.database import make_engine
from bot.metrics.settings import MetricsSettings
from bot.runtime import ops_channel
from bot.runtime.ops_channel import OpsInput
from bot.settings import Settings
from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.settings import TelegramSettings
from tests.auxil.metrics import sample
from tests.auxil.rasa_stack import free_port


@contextlib.asynccontextmanager
async def rasa_server_with_ops(database_url: str, telegram: TelegramRuntime | None = None) -> AsyncIterator[str]:
    """A Sanic app with the ops channel under Rasa's own ``register`` (route ``/webhooks/``), serving on loopback."""
    Sanic.test_mode = True  # several apps in one process, as the channel tests run them
    app = Sanic(f"rasa_ops_{uuid.uuid4().hex}", configure_logging=False)
    if telegram is not None:
        app.ctx.telegram_runtime = telegram  # as the Telegram channel sets it before it connects
    channel = OpsInput(MetricsSettings.from_env({}), Settings.from_env({"DATABASE_URL": database_url}))
    register([channel], app, "/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def _get(url: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_routes_at_the_root_and_unready_until_the_model_is_loaded(sqlite_url):
    async with rasa_server_with_ops(sqlite_url) as base:
        assert await _get(f"{base}/healthz") == (200, '{"alive":true}')
        status, body = await _get(f"{base}/readyz")
        assert status == 503
        assert '"checks":{"model":false,"database":true,"leases":true,"outbox":true}' in body
        status, scrape = await _get(f"{base}/metrics")
        assert status == 200 and sample(scrape, "python_gc_objects_collected_total", generation="0") is not None
        assert (await _get(f"{base}/metrics", **{"X-Forwarded-For": "198.51.100.4"}))[0] == 403


async def test_readyz_says_when_the_database_does_not_answer(pg_url, proxy_to):
    proxy = proxy_to("127.0.0.1", 5432)
    async with rasa_server_with_ops(proxy.route(pg_url)) as base:
        assert '"database":true' in (await _get(f"{base}/readyz"))[1]
        proxy.blackhole()
        status, body = await _get(f"{base}/readyz")
        assert status == 503 and '"database":false' in body and "the database did not answer" in body


async def test_a_telegram_channel_still_connecting_is_a_note_not_an_unheld_lease(sqlite_url, monkeypatch):
    unreachable = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens: Telegram is down
    settings = TelegramSettings.from_env(
        {"TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35, "TELEGRAM_API_BASE_URL": unreachable}
    )
    engine = make_engine(sqlite_url)
    runtime = TelegramRuntime.create(settings, engine)
    try:
        async with rasa_server_with_ops(sqlite_url, telegram=runtime) as base:
            connecting = json.loads((await _get(f"{base}/readyz"))[1])
            monkeypatch.setattr(ops_channel, "CONNECT_GRACE_SECONDS", 0.0)  # the time to connect is over
            body = json.loads((await _get(f"{base}/readyz"))[1])
        assert (
            connecting["checks"]["channels"] is False and "the Telegram channel is connecting" in connecting["problems"]
        )
        assert "channels" not in body["checks"] and body["checks"]["leases"] is True
        assert not any("lease" in p or "connecting" in p for p in body["problems"])
        assert body["notes"] == ["Telegram is not connected yet: the channel keeps retrying (see the log)"]
    finally:
        engine.dispose()
