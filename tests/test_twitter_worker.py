"""No silent drops on X: failures injected for real (fake X answering 5xx, hanging, refusing; the bot
raising; the database away), each event retried, later events going on, set-aside rows keeping their error."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sanic import Sanic
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from connectors.twitter.inbox import DONE, FAILED, PENDING, x_inbox
from connectors.twitter.state import DM
from tests.auxil.databases import PG_ADMIN_URL
from tests.auxil.fake_x import DM_SEND, FakeX
from tests.auxil.waiting import until
from tests.auxil.x_world import ACCOUNT, Served, World, signature

WAIT_SECONDS = 10.0
# Quick retries, yet a first back-off long enough to see an event waiting for its next try.
FAST = {"poll_seconds": 0.1, "event_retry_seconds": 0.5, "max_attempts": 2}


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic rewrites its own functions on the first server start; test mode lets it start twice."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    server = FakeX(account_id=ACCOUNT)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def session(fake_x: FakeX) -> AsyncIterator[aiohttp.ClientSession]:
    client = fake_x.session()
    yield client
    await client.close()


def inbox_row(world: World, event_id: str) -> dict:
    with world.store.engine.connect() as conn:
        row = conn.execute(select(x_inbox).where(x_inbox.c.kind == DM, x_inbox.c.event_id == event_id)).one()
    return dict(row._mapping)


def status(world: World, event_id: str) -> str:
    return str(inbox_row(world, event_id)["status"])


async def test_a_failing_dm_is_retried_then_set_aside_with_its_error_and_nothing_waits_on_it(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(fake_x, session, sqlite_url, event_max_failures=3, **FAST)
    world.bot.broken = {"boom"}
    broken = fake_x.dm("2101", "boom")
    after = fake_x.dm("2101", "and then this")  # same customer: waits for the broken one
    other = fake_x.dm("2102", "hello")  # another customer: goes on at once
    try:
        await world.poll()
        assert [m.text for m in world.bot.messages] == ["hello"] and fake_x.delivered_dms("2102")
        first = inbox_row(world, broken)
        assert (first["status"], first["failures"]) == (PENDING, 1)
        assert "RuntimeError: the bot broke on 'boom'" in first["error"]
        assert status(world, after) == PENDING and status(world, other) == DONE

        with caplog.at_level(logging.WARNING, logger="connectors.twitter.worker"):
            world.runtime.start()
            await until(lambda: status(world, after) == DONE, WAIT_SECONDS)
        kept = inbox_row(world, broken)
        assert (kept["status"], kept["failures"], kept["attempts"]) == (FAILED, 3, 3)
        assert "the bot broke on 'boom'" in kept["error"] and kept["payload"]["text"] == "boom"
        assert [m.text for m in world.bot.messages] == ["hello", "and then this"]
        (set_aside,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert "set aside" in set_aside.getMessage() and set_aside.exc_info is not None
        assert len([r for r in caplog.records if r.levelno == logging.WARNING and r.exc_info]) == 2  # failures 1, 2
    finally:
        await world.close()


async def test_x_answering_5xx_is_retried_without_counting_and_later_customers_go_on(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    world = World(fake_x, session, sqlite_url, event_max_failures=1, **FAST)
    slow = fake_x.dm("2111", "my withdrawal")
    quick = fake_x.dm("2112", "my deposit")
    fake_x.fail(DM_SEND, 503, 503)  # both tries of the first reply (max_attempts=2)
    try:
        await world.poll()
        assert fake_x.delivered_dms("2112") and not fake_x.delivered_dms("2111")
        waiting = inbox_row(world, slow)
        assert (waiting["status"], waiting["failures"], waiting["attempts"]) == (PENDING, 0, 1)
        assert waiting["error"] == "XUnavailable: dm_send: gave up after 2 attempts"
        assert status(world, quick) == DONE

        world.runtime.start()
        await until(lambda: fake_x.delivered_dms("2111"), WAIT_SECONDS)
        await until(lambda: status(world, slow) == DONE, WAIT_SECONDS)  # one failure allowed, none counted
    finally:
        await world.close()


async def test_x_hanging_times_out_and_is_retried_while_later_customers_go_on(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    world = World(fake_x, session, sqlite_url, event_max_failures=1, event_timeout_seconds=0.5, **FAST)
    hung = fake_x.dm("2121", "is anyone there")
    quick = fake_x.dm("2122", "hello")
    fake_x.fail(DM_SEND, 503, delay=2.0)  # the first reply hangs past the event's time limit
    try:
        await world.poll()
        stuck = inbox_row(world, hung)
        assert (stuck["status"], stuck["failures"], stuck["error"]) == (PENDING, 0, "not handled within 0.5 s")
        assert status(world, quick) == DONE and fake_x.delivered_dms("2122")

        world.runtime.start()
        await until(lambda: status(world, hung) == DONE, WAIT_SECONDS)
        assert fake_x.delivered_dms("2121")
    finally:
        await world.close()


async def test_x_refusing_connections_is_retried_until_it_accepts_again(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    world = World(fake_x, session, sqlite_url, event_max_failures=1, **FAST)
    first, second = fake_x.dm("2131", "first"), fake_x.dm("2131", "second")
    try:
        await world.runtime.poller.poll_once()  # fetched and stored; then X goes away
        await fake_x.refuse_connections()
        world.runtime.start()
        await until(lambda: inbox_row(world, first)["attempts"] >= 2, WAIT_SECONDS)
        refused = inbox_row(world, first)
        assert (refused["status"], refused["failures"]) == (PENDING, 0)
        assert "gave up after 2 attempts" in refused["error"] and status(world, second) == PENDING

        await fake_x.accept_connections()
        await until(lambda: status(world, second) == DONE, WAIT_SECONDS)
        assert status(world, first) == DONE
        assert [m.text for m in world.bot.messages][-2:] == ["first", "second"]  # still in order
    finally:
        await world.close()


async def test_a_webhook_event_is_stored_before_the_200_and_retried_until_handled(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    world = World(fake_x, session, sqlite_url, mode="webhook", **FAST)
    world.bot.broken = {"help me"}
    event_id = fake_x._id()
    body = json.dumps(
        {
            "for_user_id": ACCOUNT,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": event_id,
                    "message_create": {
                        "target": {"recipient_id": ACCOUNT},
                        "sender_id": "2141",
                        "message_data": {"text": "help me"},
                    },
                }
            ],
        }
    ).encode()
    try:
        async with Served(world) as served, aiohttp.ClientSession() as http:
            headers = {"x-twitter-webhooks-signature": signature(body)}
            async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:
                assert resp.status == 200
            await until(lambda: inbox_row(world, event_id)["failures"] >= 1, WAIT_SECONDS)  # failing, not lost
            world.bot.broken.clear()  # the bug is fixed
            await until(lambda: status(world, event_id) == DONE, WAIT_SECONDS)
        assert [m.text for m in world.bot.messages] == ["help me"] and fake_x.delivered_dms("2141")
    finally:
        await world.close()


@pytest.mark.postgres
async def test_a_webhook_delivery_that_cannot_be_stored_gets_a_503_so_x_sends_it_again(
    fake_x: FakeX, session: aiohttp.ClientSession, pg_url: str
) -> None:
    world = World(fake_x, session, pg_url, mode="webhook", **FAST)
    name = make_url(pg_url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    event_id = fake_x._id()
    body = json.dumps(
        {
            "for_user_id": ACCOUNT,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": event_id,
                    "message_create": {"sender_id": "2151", "message_data": {"text": "hello"}},
                }
            ],
        }
    ).encode()
    headers = {"x-twitter-webhooks-signature": signature(body)}
    try:
        async with Served(world) as served, aiohttp.ClientSession() as http:
            with admin.connect() as conn:  # the database goes away
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            try:
                async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:
                    assert resp.status == 503
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:  # X redelivers
                assert resp.status == 200
            await until(lambda: fake_x.delivered_dms("2151"), WAIT_SECONDS)
            await until(lambda: status(world, event_id) == DONE, WAIT_SECONDS)
    finally:
        await world.close()
        world.store.engine.dispose()
        admin.dispose()
