"""Waiting, in async tests, for something another task or process does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.02


async def until(predicate: Callable[[], T], timeout: float) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        await asyncio.sleep(POLL_SECONDS)
    return result


async def until_awaited(predicate: Callable[[], Awaitable[T]], timeout: float) -> T:
    """``until`` for a check that awaits (an HTTP call, a query off the loop), so the loop runs meanwhile."""
    deadline = time.monotonic() + timeout
    while not (result := await predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        await asyncio.sleep(POLL_SECONDS)
    return result
