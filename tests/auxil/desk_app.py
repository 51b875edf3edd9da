"""Run the real desk app on 127.0.0.1 for tests, with agents whose passwords are known."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.cases.store import Case, TranscriptLine
from bot.desk.app import create_app
from bot.desk.context import DESK, DeskContext
from bot.desk.passwords import hash_password
from bot.desk.settings import DeskSettings
from bot.metrics.settings import MetricsSettings

PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-2"}


def desk_agents(telegram_ids: dict[str, int] | None = None) -> str:
    """``DESK_AGENTS`` for alice (the first, so the admin) and bob, each linked to the Telegram id given."""
    links = telegram_ids or {}
    return ",".join(
        f"{name}:{hash_password(pw, iterations=1000)}" + (f":{links[name]}" if name in links else "")
        for name, pw in PASSWORDS.items()
    )


def desk_env(database_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "DESK_AGENTS": desk_agents(), "DESK_POLL_SECONDS": "0.05", **extra}


@contextlib.asynccontextmanager
async def running_desk(
    database_url: str, *, metrics: MetricsSettings | None = None, **extra: str
) -> AsyncIterator[TestServer]:
    settings = DeskSettings.from_env(desk_env(database_url, **extra))
    server = TestServer(create_app(settings, metrics or MetricsSettings.from_env({})), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def context_of(server: TestServer) -> DeskContext:
    return server.app[DESK]


def origin(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


def open_case(server: TestServer, priority: int = 1, channel: str = "rest", sender_id: str = "web-ada") -> Case:
    """A case as the bot opens it: a theft report with the customer's first message."""
    return context_of(server).store.open_case(
        intent="suspected_theft",
        priority=priority,
        channel=channel,
        sender_id=sender_id,
        summary="Withdrawals I did not make",
        details={"coin": "BTC", "amount": "0.5"},
        transcript=[TranscriptLine(role="customer", text="someone took my BTC")],
    )


@contextlib.asynccontextmanager
async def visitor(server: TestServer) -> AsyncIterator[TestClient]:
    """A client that has not signed in."""
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def signed_in(server: TestServer, name: str) -> AsyncIterator[TestClient]:
    async with visitor(server) as client:
        response = await client.post(
            "/login",
            data={"name": name, "password": PASSWORDS[name]},
            headers={"Origin": origin(server)},
            allow_redirects=False,
        )
        assert response.status == 302 and response.headers["Location"] == "/", await response.text()
        yield client


async def act(client: TestClient, server: TestServer, case_id: str, action: str, **body: Any) -> Any:
    return await client.post(f"/api/cases/{case_id}/{action}", json=body, headers={"Origin": origin(server)})
