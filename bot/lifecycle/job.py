"""The purge as a desk job: once per interval, in one desk only (a leader lease)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from bot.cases.leases import LeaderLease, run_while_leader
from bot.lifecycle.purge import Purge

PURGE_LEASE = "data_purge"
RETRY_SECONDS = 60.0  # how often a desk without the lease checks whether the purging desk went away
LEASE_MARGIN_SECONDS = 3600.0


def purge_lease(engine: Engine, interval_hours: float) -> LeaderLease:
    """A lease that outlives the pause between purges, so the purging desk keeps it from one purge to the next.

    A desk that stops releases it and another purges at once; one that dies is replaced
    when the lease runs out. A purge twice in a row does no harm: the second finds nothing.
    """
    return LeaderLease(engine, PURGE_LEASE, seconds=interval_hours * 3600 + LEASE_MARGIN_SECONDS)


async def run_purges(purge: Purge, lease: LeaderLease, interval_hours: float) -> None:
    """Purge now, then every ``interval_hours``, while this desk holds ``lease``; until cancelled."""

    async def cycle() -> None:
        await asyncio.to_thread(purge.run)

    await run_while_leader(
        lease, cycle, name="data purge", retry_seconds=RETRY_SECONDS, pause_seconds=interval_hours * 3600
    )
