"""Stopping background tasks so that stopping never hangs.

On Python 3.10 a cancellation that meets ``asyncio.wait_for`` just as its inner call
finishes is lost and the task runs on; a loop task (a worker, a poller) then never ends
and whoever awaits it waits forever. So a task is cancelled again until it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any


async def cancelled(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended; its result or error is dropped."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


async def all_cancelled(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel every task at once and wait until all have ended."""
    await asyncio.gather(*(cancelled(task) for task in tasks))
