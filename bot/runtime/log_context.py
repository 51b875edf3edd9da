"""The id of the request or update a log line belongs to, carried in a context variable.

asyncio tasks and ``asyncio.to_thread`` copy the context, so an id bound where a request
or an update starts is on every line logged while it is handled, by any module. Ids say
where they come from: ``rest-…`` (a REST request), ``tg-<update_id>``, ``x-dm-<event id>``,
``desk-…`` (a desk request), ``outbox-<row id>`` (a delivery); the action server takes the
id of the user message it acts on, so one turn has one id in both Rasa processes.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current() -> str | None:
    """The id bound in this context, if any."""
    return _REQUEST_ID.get()


def new_id(prefix: str) -> str:
    """A fresh id for a request that brings none (``rest-3f2a…``)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def safe(value: object) -> str | None:
    """``value`` when it is a short plain id; None for anything a client could use to forge log lines."""
    return value if isinstance(value, str) and _SAFE_ID.fullmatch(value) else None


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[str | None]:
    """Lines logged inside the block carry ``request_id``."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield request_id
    finally:
        _REQUEST_ID.reset(token)


def bind(request_id: str | None) -> None:
    """Set the id until the next ``bind`` in this context (for middleware that has no block to wrap)."""
    _REQUEST_ID.set(request_id)
