"""Engine factory: one place that turns ``DATABASE_URL`` into a ready SQLAlchemy engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, create_engine, make_url

from bot.cases.schema import metadata as case_metadata

T = TypeVar("T")


def make_engine(database_url: str, *extra_metadata: MetaData) -> Engine:
    """Create the engine and every table the caller needs (cases plus ``extra_metadata``).

    SQLite files get WAL mode and a busy timeout, because the Rasa server, the action
    server and the desk write to the same file from three processes.
    """
    url = make_url(database_url)
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    for metadata in (case_metadata, *extra_metadata):
        metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def in_thread(timeout: float, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking database call off the event loop, never awaited for longer than ``timeout``.

    The engine's own timeouts end the call itself; this bound keeps the caller moving even
    when a driver ignores them.
    """
    return await asyncio.wait_for(asyncio.to_thread(function, *args, **kwargs), timeout)
