"""Which server processes are alive, by the database's clock, so their claims can be trusted or taken.

Each process that claims work (a Rasa server with the Telegram channel) registers an
instance id and beats a heartbeat. A claim is honoured only while its holder's heartbeat
is fresh; a restarted process with the same id takes its earlier claims back at once.
Every time here is the database's own clock (``database_epoch``), never the host's, so
hosts with drifting clocks agree on who is alive.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.selectable import Select

from bot.migrations.runner import ensure_schema

metadata = MetaData()

runtime_instances = Table(
    "runtime_instances",
    metadata,
    Column("instance_id", String(128), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)


class database_epoch(FunctionElement):
    """Seconds since 1970 by the database server's clock (ms precision on SQLite)."""

    type = Float()
    inherit_cache = True


@compiles(database_epoch)
def _sqlite_epoch(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(database_epoch, "postgresql")
def _postgres_epoch(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


def default_instance_id(port: str | None = None) -> str:
    """Host and Rasa port, used when ``INSTANCE_ID`` is unset: stable across restarts, distinct per process."""
    return f"{socket.gethostname()}:{port or os.environ.get('RASA_PORT', '5005')}"[:128]


class Instance:
    """This process in the instance table: ``register`` once at start, ``beat`` every few seconds."""

    def __init__(self, engine: Engine, instance_id: str, stale_seconds: float = 10.0) -> None:
        ensure_schema(engine)
        self._engine = engine
        self.id = instance_id
        self.stale_seconds = stale_seconds

    def register(self) -> None:
        """Start a new life under this id (claims of the earlier life are released by their owners' tables)."""
        values = {"started_at": database_epoch(), "heartbeat_at": database_epoch()}
        with self._engine.begin() as conn:
            done = conn.execute(
                update(runtime_instances).where(runtime_instances.c.instance_id == self.id).values(values)
            )
            if done.rowcount == 1:
                return
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(runtime_instances).values(instance_id=self.id, **values))
        except IntegrityError:  # registered by a twin at the same moment: beat instead
            self.beat()

    def beat(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(runtime_instances)
                .where(runtime_instances.c.instance_id == self.id)
                .values(heartbeat_at=database_epoch())
            )

    def live_ids(self) -> Select:
        """SQL for the ids whose heartbeat is fresh, to use inside a claim's WHERE clause."""
        return select(runtime_instances.c.instance_id).where(
            runtime_instances.c.heartbeat_at > database_epoch() - self.stale_seconds
        )

    def alive(self) -> list[str]:
        """Ids with a fresh heartbeat (for health pages and tests)."""
        with self._engine.connect() as conn:
            return [str(row[0]) for row in conn.execute(self.live_ids())]
