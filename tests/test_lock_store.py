"""Rasa's conversation lock on a real Redis, with tickets renewed by their holder (``bot/runtime/lock_store.py``).

Short lives here (a ticket 1.5 s, renewed every 0.3 s, Redis answering within 0.2 s) stand for the
14 s, 2 s and 5 s the stack uses.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.runtime.lock_store import RenewedRedisLockStore
from bot.runtime.stack import LOCK_STORE, redis_lock_store
from bot.settings import PROJECT_ROOT

TICKET, RENEW, REDIS_TIMEOUT = 1.5, 0.3, 0.2


@pytest.fixture
def store(redis_url: str) -> RenewedRedisLockStore:
    """A lock store of its own (key prefix) on the test's Redis database."""
    parsed = urlsplit(redis_url)
    return RenewedRedisLockStore(
        host=parsed.hostname, port=parsed.port, db=int(parsed.path.strip("/")),
        key_prefix=f"t{uuid.uuid4().hex[:10]}", socket_timeout=REDIS_TIMEOUT, ticket_seconds=TICKET,
        renew_seconds=RENEW,
    )  # fmt: skip


# A process that takes the conversation's lock as Rasa's turn does, says so, and stays in its turn.
_HOLDER = """
import asyncio, sys
from bot.runtime.lock_store import RenewedRedisLockStore

async def main():
    host, port, db, prefix, ticket, renew = sys.argv[1:]
    store = RenewedRedisLockStore(host=host, port=int(port), db=int(db), key_prefix=prefix, socket_timeout=0.2,
                                  ticket_seconds=float(ticket), renew_seconds=float(renew))
    async with store.lock("tg:1:1"):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_killed_processs_ticket_lapses_in_seconds_not_a_minute(
    store: RenewedRedisLockStore, redis_url: str
) -> None:
    """kill -9 in the middle of a turn leaves its ticket; the conversation's next turn waits about one
    ticket's life (Rasa's own tickets lived 60 s, and a crash replay waited them out)."""
    parsed = urlsplit(redis_url)
    prefix = store.key_prefix.split(":")[0]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(parsed.hostname), str(parsed.port), parsed.path.strip("/"), prefix,
         str(TICKET), str(RENEW)],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        await asyncio.sleep(2 * TICKET)
        held = store.get_lock("tg:1:1")
        assert held is not None and not held.tickets[0].has_expired()  # renewed past its first life
    finally:
        holder.kill()
        holder.wait(timeout=10)
    started = time.monotonic()

    async def next_turn() -> float:
        async with store.lock("tg:1:1", wait_time_in_seconds=0.1):
            return time.monotonic() - started

    waited = await asyncio.wait_for(next_turn(), timeout=TICKET + 5)
    assert waited < TICKET + 1.0, waited
    assert store.get_lock("tg:1:1") is None  # cleaned up after the turn


async def long_turn_then_the_next(store: RenewedRedisLockStore, conversation: str) -> list[str]:
    """A turn three ticket-lives long, and one more turn of the conversation asking for the lock meanwhile."""
    order: list[str] = []
    held = asyncio.Event()

    async def long_turn() -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.1):
            order.append("long in")
            held.set()
            await asyncio.sleep(3 * TICKET)
            order.append("long out")

    async def next_turn() -> None:
        await held.wait()
        async with store.lock(conversation, wait_time_in_seconds=0.1):
            order.append("next in")

    await asyncio.wait_for(asyncio.gather(long_turn(), next_turn()), timeout=30)
    return order


async def test_a_live_holder_keeps_the_lock_however_long_its_turn_and_the_next_one_waits(
    store: RenewedRedisLockStore,
) -> None:
    """A slow action server, a database outage: nobody else enters, and the waiting turn's own ticket stays
    valid until its turn comes."""
    assert await long_turn_then_the_next(store, "tg:2:2") == ["long in", "long out", "next in"]


async def test_renewals_do_not_queue_behind_the_processs_other_blocking_calls(store: RenewedRedisLockStore) -> None:
    """Database calls that hang (and outlive their caller's timeout) fill the default thread pool; the renewal
    has a thread of its own, so the live turn keeps its lock (the review saw a second turn enter at 15 s)."""
    loop = asyncio.get_running_loop()
    pool = min(32, (os.cpu_count() or 1) + 4)  # the default executor's threads
    blockers = [loop.run_in_executor(None, time.sleep, 3 * TICKET + 1) for _ in range(pool + 2)]
    try:
        assert await long_turn_then_the_next(store, "tg:4:4") == ["long in", "long out", "next in"]
    finally:
        await asyncio.gather(*blockers)


def test_a_ticket_outlives_two_renewals_that_each_wait_for_redis(redis_url: str) -> None:
    """With Redis answering in up to 9 s, a 14-s ticket renewed every 2 s could lapse after two slow replies;
    the ticket is made long enough for two (with REDIS_TIMEOUT_SECONDS's 5 s, exactly 14 s)."""
    parsed = urlsplit(redis_url)
    slow = RenewedRedisLockStore(host=parsed.hostname, port=parsed.port, socket_timeout=9.0)
    assert slow._ticket_seconds == 2 * (2.0 + 9.0)
    assert RenewedRedisLockStore(host=parsed.hostname, port=parsed.port, socket_timeout=5.0)._ticket_seconds == 14.0


async def test_a_turn_stuck_past_the_locks_lifetime_lets_the_conversation_go_on(store: RenewedRedisLockStore) -> None:
    """A turn that ignores every timeout (the watchdog's case) holds its lock no longer than Rasa's own ticket
    would have: nothing waits for it forever."""
    held = asyncio.Event()

    async def stuck_turn() -> None:
        async with store.lock("tg:3:3", lock_lifetime=1.0, wait_time_in_seconds=0.1):
            held.set()
            await asyncio.sleep(3600)

    stuck = asyncio.create_task(stuck_turn())
    try:
        await asyncio.wait_for(held.wait(), timeout=10)
        started = time.monotonic()

        async def next_turn() -> float:
            async with store.lock("tg:3:3", wait_time_in_seconds=0.1):
                return time.monotonic() - started

        waited = await asyncio.wait_for(next_turn(), timeout=1.0 + RENEW + TICKET + 5)
        assert 1.0 < waited < 1.0 + RENEW + TICKET + 1.0, waited
    finally:
        stuck.cancel()


def test_rasa_builds_it_from_the_endpoints_the_stack_writes(redis_url: str) -> None:
    """``make run`` writes this type into ``var/endpoints.yml``; Rasa imports it by name with the Redis fields."""
    fields = redis_lock_store(redis_url, 2.0)
    assert fields["type"] == LOCK_STORE
    built = LockStore.create(EndpointConfig.from_dict(fields))
    assert isinstance(built, RenewedRedisLockStore) and built.key_prefix.startswith("support:")
    built.save_lock(built.create_lock("probe"))
    assert built.get_lock("probe") is not None
    built.delete_lock("probe")
