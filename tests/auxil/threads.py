"""Checking that blocking work is kept off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class LoopSpy(Generic[P, R]):
    """Wraps a blocking function and records, per call, whether it ran on an event loop's thread."""

    def __init__(self, inner: Callable[P, R]) -> None:
        self._inner = inner
        self.on_loop: list[bool] = []

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.on_loop.append(False)
        else:
            self.on_loop.append(True)
        return self._inner(*args, **kwargs)
