"""A lease in the shared database so only one process polls X, on SQLite and PostgreSQL alike.

The holder renews it every cycle; if that process dies, another takes over once it expires.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Column, Float, MetaData, String, Table, insert, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

x_leases = Table(
    "x_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)


class PollerLease:
    """``acquire()`` is True while this process holds (or has just taken) the lease ``name``."""

    def __init__(self, engine: Engine, name: str, seconds: float, owner: str | None = None) -> None:
        metadata.create_all(engine)
        self._engine = engine
        self._name = name
        self._seconds = seconds
        self.owner = owner or uuid.uuid4().hex

    @property
    def seconds(self) -> float:
        """How long the lease lasts without renewal."""
        return self._seconds

    def acquire(self) -> bool:
        now = time.time()
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(x_leases)
                .where(x_leases.c.name == self._name, or_(x_leases.c.owner == self.owner, x_leases.c.expires_at < now))
                .values(owner=self.owner, expires_at=now + self._seconds)
            )
            if taken.rowcount == 1:
                return True
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(x_leases).values(name=self._name, owner=self.owner, expires_at=now + self._seconds))
        except IntegrityError:
            return False  # another process holds it
        return True

    def release(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(x_leases)
                .where(x_leases.c.name == self._name, x_leases.c.owner == self.owner)
                .values(expires_at=0.0)
            )
