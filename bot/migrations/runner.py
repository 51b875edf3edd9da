"""Bring a database to the newest schema revision: once per engine per process, one process at a time.

Every store calls ``ensure_schema`` with its engine, so a test or a single process on a
fresh SQLite file gets its tables; ``make run`` and ``python -m bot.migrate`` upgrade before
anything starts. Processes that start together wait for one another: PostgreSQL by an
advisory lock held for the upgrade's transaction, SQLite by taking the write lock at once.
A database made before Alembic (no ``alembic_version``) is upgraded from nothing: every
revision creates only what is missing, so its tables and rows are kept.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

logger = logging.getLogger(__name__)

RASA_TABLES = frozenset({"events"})  # SQLTrackerStore's: Rasa creates them, Alembic leaves them alone
SCHEMA_LOCK = 4_733_611_207  # pg_advisory_xact_lock key: one upgrade at a time per database

_upgraded: weakref.WeakSet[Engine] = weakref.WeakSet()
_one_at_a_time = threading.Lock()  # Alembic's ``op`` and ``context`` are process-wide


def ensure_schema(engine: Engine) -> None:
    """The database behind ``engine`` at the newest revision; after the first call, free."""
    if engine not in _upgraded:
        upgrade(engine)
        _upgraded.add(engine)


def upgrade(engine: Engine) -> None:
    """Run the revisions the database lacks, in one transaction that no other upgrade runs beside."""
    with engine.connect() as conn:
        if current_revision(conn) == head_revision():
            return
    with _one_at_a_time, engine.connect() as conn:
        _take_schema_lock(conn)
        before = current_revision(conn)  # read under the lock: another process may just have upgraded
        if before != head_revision():
            logger.info("upgrading the schema from %s to %s", before or "none (new or pre-Alembic)", head_revision())
            command.upgrade(alembic_config(connection=conn), "head")
        conn.commit()


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None before the first upgrade."""
    return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def alembic_config(**attributes: Any) -> Config:
    """Alembic's settings, in code (no alembic.ini); ``attributes`` reach ``env.py`` (``connection``, ...)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes.update(attributes)
    return config


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """What autogenerate compares: everything but Rasa's tracker tables."""
    return not (type_ == "table" and name in RASA_TABLES)


def _take_schema_lock(conn: Connection) -> None:
    """Begin the upgrade's transaction holding the database's one schema lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the first write
