"""Engine factory: one place that turns ``DATABASE_URL`` into a ready SQLAlchemy engine.

Every wait on the database is bounded, so a database that hangs or vanishes costs a request
an error after a known time instead of a stuck thread (and, in Rasa, a stuck event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import select
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
from psycopg2.extensions import POLL_OK, POLL_READ, STATUS_SETUP, set_wait_callback
from psycopg2.extensions import connection as PgConnection
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from bot.environment import reading

SQLITE_BUSY_SECONDS = 30
SQLITE_POOL_SIZE = 10  # kept open: asyncio's default thread pool plus the event loop's own calls, with room
REPLY_MARGIN_SECONDS = 2.0  # past the server's own statement timeout, for the network
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
T = TypeVar("T")
logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, PoolTimeout)
"""What a call raises while the database is unreachable, hung, overloaded or locked: worth a retry later."""
DATABASE_AWAY: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, InterfaceError, asyncio.TimeoutError)
"""The same, with a connection the driver dropped and a call ``in_thread`` stopped waiting for."""


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long a process waits on PostgreSQL, in seconds, before the call fails.

    ``connect``: to open a connection; ``statement``: for one statement, which the server
    cancels after that long (and the client gives up on a server that has not answered
    ``REPLY_MARGIN_SECONDS`` later); ``pool``: for a free connection of the process's pool.
    """

    connect: float = 5.0
    statement: float = 15.0
    pool: float = 10.0

    @property
    def call(self) -> float:
        """The longest a call of a couple of statements can take before each of them failed on its own."""
        return self.connect + self.pool + 2 * (self.statement + REPLY_MARGIN_SECONDS)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DatabaseTimeouts:
        """Read ``DATABASE_*_TIMEOUT_SECONDS`` (each must be positive)."""
        with reading(env) as read:
            return cls(
                connect=read.number("DATABASE_CONNECT_TIMEOUT_SECONDS", cls.connect, positive=True),
                statement=read.number("DATABASE_STATEMENT_TIMEOUT_SECONDS", cls.statement, positive=True),
                pool=read.number("DATABASE_POOL_TIMEOUT_SECONDS", cls.pool, positive=True),
            )


def make_engine(
    database_url: str, *foreign_metadata: MetaData, timeouts: DatabaseTimeouts = DatabaseTimeouts()
) -> Engine:
    """Create the engine, and the tables of ``foreign_metadata`` (Rasa's tracker store) if missing.

    Our own tables are not made here: each store brings the database to the newest
    revision (``bot.migrations.runner.ensure_schema``).

    SQLite files get WAL mode and a busy timeout, because the Rasa server, the action
    server and the desk write to the same file from three processes, and pooled
    connections: opening one costs more than most of our statements. PostgreSQL gets
    ``timeouts`` and TCP keepalives, so a dead connection is noticed and dropped.
    JSON columns keep Korean and Chinese as written, not as escapes, so the desk's
    search finds a name in a case's details.
    """
    url = make_url(database_url)
    kwargs: dict[str, Any] = {"future": True, "json_serializer": functools.partial(json.dumps, ensure_ascii=False)}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(url.database))
            kwargs["poolclass"] = QueuePool  # SQLAlchemy 1.4 would open and close a file per transaction
            kwargs["pool_size"] = SQLITE_POOL_SIZE
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
    elif url.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        kwargs["pool_timeout"] = timeouts.pool
        kwargs["connect_args"] = _postgresql_connect_args(timeouts)
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    for metadata in foreign_metadata:
        metadata.create_all(engine)
    return engine


def _create_private(path: Path) -> None:
    """Make a new SQLite file readable by its owner only: it holds customers' messages.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _postgresql_connect_args(timeouts: DatabaseTimeouts) -> dict[str, Any]:
    """psycopg2 arguments: server-side limits, keepalives, and a connection that knows its deadlines."""
    set_wait_callback(_wait_bounded)  # process-wide; idempotent
    statement_ms = round(timeouts.statement * 1000)
    return {
        **KEEPALIVE,
        "options": f"-c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={statement_ms}",
        "connection_factory": _ConnectionFactory(timeouts.connect, timeouts.statement + REPLY_MARGIN_SECONDS),
    }


class _BoundedConnection(PgConnection):
    """A psycopg2 connection that carries how long ``_wait_bounded`` may wait for its server."""

    def __init__(self, dsn: str, async_: int, connect_seconds: float, reply_seconds: float) -> None:
        self.connect_seconds = connect_seconds
        self.reply_seconds = reply_seconds
        super().__init__(dsn, async_)  # connects, through _wait_bounded


@dataclass(frozen=True)
class _ConnectionFactory:
    """What psycopg2 calls (``connection_factory``) to make each connection of an engine."""

    connect_seconds: float
    reply_seconds: float

    def __call__(self, dsn: str, async_: int = 0) -> _BoundedConnection:
        return _BoundedConnection(dsn, async_, self.connect_seconds, self.reply_seconds)


def _wait_bounded(connection: Any) -> None:
    """psycopg2's wait callback: libpq waits for the server here, and only this long.

    libpq waits for a reply without end, and TCP keepalives only notice a peer that is
    gone, not a server (or a proxy) that holds the connection open and never answers.
    Raising here makes psycopg2 close the connection, and SQLAlchemy then drops it from the pool. Connections made
    without deadlines (not by ``make_engine``) wait as libpq would.
    """
    setting_up = connection.status == STATUS_SETUP
    seconds: float | None = getattr(connection, "connect_seconds" if setting_up else "reply_seconds", None)
    deadline = None if seconds is None else time.monotonic() + seconds
    while (state := connection.poll()) != POLL_OK:
        poller = select.poll()  # afresh each time: libpq may move to another socket while connecting
        poller.register(connection.fileno(), select.POLLIN if state == POLL_READ else select.POLLOUT)
        if deadline is None:
            poller.poll()
        elif not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            doing = "connect" if setting_up else "answer"
            raise psycopg2.OperationalError(f"the database did not {doing} within {seconds:g} s")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _switch_to_wal(cursor)
    # A commit survives a killed process without waiting for the disk; only a power cut may take
    # back the last commits (SQLite's advice for WAL). PostgreSQL is the store for stronger needs.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL mode, once per file: the first connections to a new file may race to switch it.

    Switching needs the file to itself, and SQLite answers "database is locked" at once
    rather than waiting out the busy timeout; so it is tried again for as long as that timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0] in ("wal", "memory"):  # memory: no file
                return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("could not switch the SQLite file to WAL mode: database is locked")
        time.sleep(0.05)


async def through_blips(call: Callable[[], Awaitable[T]], give_up_after: float, what: str) -> T:
    """``call`` (a database write), tried again while the database does not answer, for ``give_up_after`` seconds.

    For a write whose absence costs more than the wait: a reply sent but not recorded is sent
    again, a turn done but not marked holds its chat until its claim runs out.
    """
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + give_up_after
    pause = 0.5
    while True:
        try:
            return await call()
        except DATABASE_AWAY as exc:
            if loop.time() + pause >= give_up_at:
                raise
            logger.warning("%s failed (%s); trying again in %.1fs", what, exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


async def in_thread(timeout: float, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking database call off the event loop, never awaited for longer than ``timeout``.

    The engine's own timeouts end the call itself; this bound keeps the caller moving even
    when a driver ignores them.
    """
    return await asyncio.wait_for(asyncio.to_thread(function, *args, **kwargs), timeout)
