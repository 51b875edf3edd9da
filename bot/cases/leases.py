"""Named leases in the shared database, so a job (a poller) runs in one process only.

The holder renews before the lease expires; a crashed holder's lease simply runs out and
another process takes over. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Column, Float, MetaData, String, Table, insert, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

leader_leases = Table(
    "leader_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)


class LeaderLease:
    """``acquire()`` is True while this process holds (or has just taken) the lease ``name``."""

    def __init__(self, engine: Engine, name: str, seconds: float, holder: str | None = None) -> None:
        metadata.create_all(engine)
        self._engine = engine
        self._name = name
        self._seconds = seconds
        self.holder = holder or uuid.uuid4().hex

    @property
    def seconds(self) -> float:
        """How long the lease lasts without renewal."""
        return self._seconds

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = time.time()
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(leader_leases)
                .where(
                    leader_leases.c.name == self._name,
                    or_(leader_leases.c.holder == self.holder, leader_leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self._seconds)
            )
            if taken.rowcount == 1:
                return True
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(leader_leases).values(name=self._name, holder=self.holder, expires_at=now + self._seconds)
                )
        except IntegrityError:
            return False  # another process holds it
        return True

    def release(self) -> None:
        """Let another process take over at once (on clean shutdown)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(leader_leases)
                .where(leader_leases.c.name == self._name, leader_leases.c.holder == self.holder)
                .values(expires_at=0.0)
            )
