"""Rasa's tracker events as plain SQL: the desk and the admin command reach them without importing Rasa."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, inspect
from sqlalchemy.engine import Connection

# The columns of SQLTrackerStore's ``events`` table that erasing and purging need.
tracker_events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("timestamp", Float),
)


def has_tracker(conn: Connection) -> bool:
    """False where no Rasa server ever wrote to this database."""
    return bool(inspect(conn).has_table(tracker_events.name))
