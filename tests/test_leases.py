"""``run_while_leader``: two real leases on one SQLite database, as two processes would hold them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.cases.database import make_engine
from bot.cases.leases import LeaderLease, leader_leases, run_while_leader
from tests.auxil.waiting import until

WAIT_SECONDS = 5.0
NAME = "test_job"


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    return make_engine(sqlite_url)


class Job:
    """One process's loop: which cycles it ran and how often it became leader."""

    def __init__(self, engine: Engine, holder: str, *, seconds: float = 60.0) -> None:
        self.lease = LeaderLease(engine, NAME, seconds, holder=holder)
        self.holder = holder
        self.cycles = 0
        self.became_leader = 0
        self.task: asyncio.Task[None] | None = None

    async def cycle(self) -> None:
        self.cycles += 1
        await asyncio.sleep(0.01)

    async def on_leader(self) -> None:
        self.became_leader += 1

    def start(self, cycle: Callable[[], Awaitable[None]] | None = None) -> None:
        self.task = asyncio.create_task(
            run_while_leader(
                self.lease,
                cycle or self.cycle,
                name=f"job {self.holder}",
                retry_seconds=0.02,
                max_backoff_seconds=0.1,
                on_leader=self.on_leader,
            )
        )

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def jobs(engine: Engine) -> AsyncIterator[list[Job]]:
    created = [Job(engine, "one"), Job(engine, "two")]
    yield created
    for job in created:
        await job.stop()


async def test_one_leader_at_a_time_and_the_other_takes_over_when_it_stops(jobs: list[Job]) -> None:
    for job in jobs:
        job.start()
    leader = await until(lambda: next((j for j in jobs if j.cycles >= 5), None), WAIT_SECONDS)
    other = jobs[1 - jobs.index(leader)]
    await until(lambda: leader.cycles >= 20, WAIT_SECONDS)  # many retries of the other meanwhile
    assert other.cycles == 0 and other.became_leader == 0 and leader.became_leader == 1

    await leader.stop()  # releases the lease: no waiting for its 60 s to run out
    started = time.monotonic()
    await until(lambda: other.cycles >= 1, WAIT_SECONDS)
    assert time.monotonic() - started < 2.0 and other.became_leader == 1


async def test_a_crashed_holders_lease_is_taken_once_it_runs_out(engine: Engine, jobs: list[Job]) -> None:
    crashed = LeaderLease(engine, NAME, 0.5, holder="crashed")
    assert crashed.acquire()  # and never renews nor releases
    jobs[0].start()
    await asyncio.sleep(0.2)
    assert jobs[0].cycles == 0
    await until(lambda: jobs[0].cycles >= 1, WAIT_SECONDS)
    assert not crashed.acquire()


async def test_a_failing_cycle_is_logged_and_retried_and_the_loop_goes_on(
    jobs: list[Job], caplog: pytest.LogCaptureFixture
) -> None:
    job = jobs[0]
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(len(calls))
        if len(calls) <= 3:
            raise RuntimeError(f"cycle {len(calls)} broke")
        await job.cycle()

    with caplog.at_level(logging.ERROR, logger="bot.cases.leases"):
        job.start(flaky)
        await until(lambda: job.cycles >= 3, WAIT_SECONDS)
    failures = [r for r in caplog.records if r.exc_info]
    assert [str(r.exc_info[1]) for r in failures] == ["cycle 1 broke", "cycle 2 broke", "cycle 3 broke"]
    assert "3 in a row" in failures[-1].getMessage()
    assert job.became_leader == 1 and not job.task.done()


async def test_a_lost_lease_stops_the_running_cycle_and_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    job = Job(engine, "one", seconds=0.3)  # renewed every 0.1 s while a cycle runs
    cancelled = asyncio.Event()

    async def endless() -> None:
        job.cycles += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with caplog.at_level(logging.WARNING, logger="bot.cases.leases"):
        job.start(endless)
        try:
            await until(lambda: job.cycles == 1, WAIT_SECONDS)
            with engine.begin() as conn:  # another process took the lease (this one stalled past its expiry)
                conn.execute(update(leader_leases).values(holder="other", expires_at=time.time() + 60))
            await asyncio.wait_for(cancelled.wait(), WAIT_SECONDS)
            await until(lambda: any("took the lease" in r.getMessage() for r in caplog.records), WAIT_SECONDS)
            assert job.cycles == 1 and not job.task.done()  # waits to be leader again
        finally:
            await job.stop()


async def test_a_leader_backing_off_from_a_failing_platform_keeps_its_lease(engine: Engine) -> None:
    """The back-off outlasts the lease, yet no other process gets it: readiness sees a live holder."""
    job = Job(engine, "one", seconds=0.3)
    other = LeaderLease(engine, NAME, 0.3, holder="two")
    failures: list[float] = []

    async def platform_down() -> None:
        failures.append(time.monotonic())
        raise ConnectionError("the platform is unreachable")

    job.task = asyncio.create_task(
        run_while_leader(job.lease, platform_down, name="job one", retry_seconds=1.0, max_backoff_seconds=1.0)
    )
    try:
        await until(lambda: len(failures) == 1, WAIT_SECONDS)
        deadline = time.monotonic() + 0.9  # three lease periods inside the first back-off
        while time.monotonic() < deadline:
            assert not other.acquire()
            await asyncio.sleep(0.1)
        await until(lambda: len(failures) == 2, WAIT_SECONDS)  # and it still retries
    finally:
        await job.stop()
    assert other.acquire()  # released on stop
