"""What ``/readyz`` checks, on the desk and on the Rasa server.

``/healthz`` only says the process answers. Ready says it can do its work: the database
answers; the model is loaded (Rasa); each lease this process runs a job under (a poller)
is held by a live process whose clock is sane; and no outbox row it is responsible for has
been sendable for longer than ``OUTBOX_STUCK_SECONDS``. A destination that is down, with
its rows waiting out their retry back-off, is not "stuck": the metrics show it instead.
The whole check is bounded in time, so a hung database makes it fail, not hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.cases.database import DATABASE_UNAVAILABLE, in_thread
from bot.cases.leases import LeaderLease
from bot.cases.store import utcnow
from bot.metrics.backlog import LeaseState, QueueState, lease_states
from bot.migrations.runner import ensure_schema

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0  # under a load balancer's usual probe timeout
CLOCK_SLACK_SECONDS = 5.0
DATABASE, MODEL, LEASES, OUTBOX, CHANNELS = "database", "model", "leases", "outbox", "channels"
UNANSWERED: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, asyncio.TimeoutError)
ReadOutboxes = Callable[[Connection, datetime], Sequence[QueueState]]


@dataclass(frozen=True)
class Readiness:
    """Each check's result, and what an operator should read about the failed ones."""

    checks: dict[str, bool]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # worth an operator's eye, but the process can serve: not a 503

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    @property
    def status(self) -> int:
        return 200 if self.ready else 503

    def body(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": self.checks, "problems": list(self.problems), "notes": list(self.notes)}


async def assess(
    engine: Engine,
    *,
    leases: Sequence[LeaderLease],
    outboxes: ReadOutboxes,
    stuck_seconds: float,
    model_loaded: bool | None = None,
    connecting: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Readiness:
    """Run every check (``model_loaded`` None: this process has no model).

    ``connecting`` names channels still within their time to connect (unready meanwhile);
    ``notes`` pass through.
    """
    checks: dict[str, bool] = {}
    problems: list[str] = []
    if model_loaded is not None:
        checks[MODEL] = model_loaded
        if not model_loaded:
            problems.append("the model is not loaded yet")
    if connecting:
        checks[CHANNELS] = False
        problems.extend(connecting)
    try:
        held, queues = await in_thread(TIMEOUT_SECONDS, _read, engine, outboxes)
    except UNANSWERED as error:
        logger.warning("readiness: the database did not answer: %s", error or type(error).__name__)
        checks.update({DATABASE: False, LEASES: False, OUTBOX: False})
        return Readiness(checks, (*problems, "the database did not answer"), tuple(notes))
    except Exception as error:  # answered, but the check could not read what it needs
        logger.exception("readiness: the database check failed")
        checks.update({DATABASE: False, LEASES: False, OUTBOX: False})
        return Readiness(checks, (*problems, f"the database check failed ({type(error).__name__})"), tuple(notes))
    checks[DATABASE] = True
    lease_problems = [p for lease in leases if (p := lease_problem(lease, held.get(lease.name))) is not None]
    outbox_problems = [
        f"outbox {queue.name}: a sendable row has waited {queue.overdue_seconds:.0f}s"
        for queue in queues
        if queue.overdue_seconds > stuck_seconds
    ]
    checks[LEASES] = not lease_problems
    checks[OUTBOX] = not outbox_problems
    return Readiness(checks, (*problems, *lease_problems, *outbox_problems), tuple(notes))


def lease_problem(lease: LeaderLease, state: LeaseState | None) -> str | None:
    """None when some live process holds ``lease`` for no longer than one lease period."""
    if state is None or not state.held:
        return f"no process holds the lease {lease.name}"
    if state.seconds_left > lease.seconds + CLOCK_SLACK_SECONDS:
        return (
            f"the lease {lease.name} runs {state.seconds_left:.0f}s more, longer than its {lease.seconds:.0f}s: "
            "its holder's clock is ahead"
        )
    return None


def _read(engine: Engine, outboxes: ReadOutboxes) -> tuple[dict[str, LeaseState], Sequence[QueueState]]:
    ensure_schema(engine)  # as every store does on first use; free once done
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        held = {state.name: state for state in lease_states(conn)}
        return held, outboxes(conn, utcnow())
