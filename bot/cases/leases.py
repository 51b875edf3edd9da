"""Named leases in the shared database, so a job (a poller) runs in one process only.

The holder renews before the lease expires; a crashed holder's lease simply runs out and
another process takes over. Works the same on SQLite and PostgreSQL. ``run_while_leader``
is the one loop every such job runs in.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import Column, Float, MetaData, String, Table, insert, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.migrations.runner import ensure_schema
from bot.runtime.tasks import cancelled

logger = logging.getLogger(__name__)

metadata = MetaData()

leader_leases = Table(
    "leader_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)


class LeaderLease:
    """``acquire()`` is True while this process holds (or has just taken) the lease ``name``."""

    def __init__(self, engine: Engine, name: str, seconds: float, holder: str | None = None) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._name = name
        self._seconds = seconds
        self.holder = holder or uuid.uuid4().hex

    @property
    def name(self) -> str:
        return self._name

    @property
    def seconds(self) -> float:
        """How long the lease lasts without renewal."""
        return self._seconds

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = time.time()
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(leader_leases)
                .where(
                    leader_leases.c.name == self._name,
                    or_(leader_leases.c.holder == self.holder, leader_leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self._seconds)
            )
            if taken.rowcount == 1:
                return True
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(leader_leases).values(name=self._name, holder=self.holder, expires_at=now + self._seconds)
                )
        except IntegrityError:
            return False  # another process holds it
        return True

    def release(self) -> None:
        """Let another process take over at once (on clean shutdown)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(leader_leases)
                .where(leader_leases.c.name == self._name, leader_leases.c.holder == self.holder)
                .values(expires_at=0.0)
            )


async def run_while_leader(
    lease: LeaderLease,
    cycle: Callable[[], Awaitable[None]],
    *,
    name: str,
    retry_seconds: float,
    pause_seconds: float = 0.0,
    max_backoff_seconds: float = 300.0,
    on_leader: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``cycle`` over and over while this process holds ``lease``, until cancelled.

    A process without the lease tries again every ``retry_seconds``. On taking the lease,
    ``on_leader`` runs first (e.g. ``deleteWebhook`` before ``getUpdates``). The lease is
    renewed while a cycle runs, and a cycle is cancelled if another process took the lease
    meanwhile. A failing cycle, hook or database is logged and tried again after a back-off
    that doubles from ``retry_seconds`` up to ``max_backoff_seconds``, so the loop never
    ends on an error. ``pause_seconds`` is the wait after a cycle that succeeded. On
    cancellation the lease is released, so another process takes over at once.
    """
    leader = False
    failures = 0
    try:
        while True:
            holding = False
            try:
                if not await asyncio.to_thread(lease.acquire):
                    if leader:
                        logger.warning("%s: another process took the lease; this one stops", name)
                    leader = False
                    await asyncio.sleep(retry_seconds)
                    continue
                holding = True
                if not leader:
                    if on_leader is not None:
                        await on_leader()
                    leader = True
                    logger.info("%s: this process holds the lease and runs", name)
                if not await _cycle_holding(lease, cycle):
                    logger.warning("%s: another process took the lease during a cycle; cycle stopped", name)
                    leader = False
                    continue
                failures = 0
            except Exception:
                failures += 1
                delay = min(retry_seconds * 2 ** (failures - 1), max_backoff_seconds)
                logger.exception("%s failed (%d in a row); trying again in %.1f s", name, failures, delay)
                if holding:
                    await _wait_holding(lease, delay, name)
                else:
                    await asyncio.sleep(delay)
                continue
            if pause_seconds > 0:
                await asyncio.sleep(pause_seconds)
    finally:
        try:
            await asyncio.to_thread(lease.release)
        except Exception:  # the lease then simply runs out
            logger.exception("%s: releasing the lease failed", name)


async def _wait_holding(lease: LeaderLease, seconds: float, name: str) -> None:
    """Back off for ``seconds`` while renewing ``lease``.

    A leader whose platform is down is still alive and still the one to poll it: letting
    the lease lapse would only make readiness report "nobody holds it" and hand the same
    failing job to another process. If the process dies, the lease runs out as usual.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, lease.seconds / 3))
        try:
            if not await asyncio.to_thread(lease.acquire):
                return  # another process took it; the loop notices on its next try
        except Exception:  # the database is down too: the lease runs out by itself
            logger.warning("%s: renewing the lease during the back-off failed", name, exc_info=True)


async def _cycle_holding(lease: LeaderLease, cycle: Callable[[], Awaitable[None]]) -> bool:
    """Run one cycle, renewing the lease meanwhile; False if the lease was lost (the cycle is cancelled)."""
    task = asyncio.ensure_future(cycle())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=lease.seconds / 3)
            if not task.done() and not await asyncio.to_thread(lease.acquire):
                return False  # the cycle is cancelled below
        task.result()  # the cycle's own error, if any
        return True
    finally:
        await cancelled(task)
