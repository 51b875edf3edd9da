"""Tables of the case store: cases, their transcript and attachments, and the outbox.

The same on SQLite by default and on PostgreSQL through ``DATABASE_URL``; a change to a
table here needs a revision in ``bot/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):  # type: ignore[type-arg]
    """Timestamps that come back timezone-aware in UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("intent", String(40), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("assignee", String(64)),
    Column("rating", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    # The customer's language (en, ko, zh): what the desk shows and sends notices in.
    Column("language", String(8), nullable=False, server_default="en"),
    # The team an agent transferred the case to; none: the desk's routes decide (bot.cases.routing).
    Column("team", String(32)),
    # The rating's optional comment (redacted): NULL until answered, "" when skipped or passed over.
    Column("rated_at", UtcDateTime),
    Column("rating_comment", Text),
    # The customer's message whose turn opened the case: that turn run again finds it.
    Column("opened_by_message", String(128)),
    Index("ix_cases_conversation", "channel", "sender_id", "status"),
    Index("ux_cases_opening_message", "channel", "sender_id", "opened_by_message", unique=True),
    Index("ix_cases_queue", "status", "priority", "created_at"),
)

case_messages = Table(
    "case_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(16), ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("role", String(16), nullable=False),
    Column("author", String(128)),
    Column("text", Text, nullable=False),
    # What the line answers to within its case (``tg-81 utter_ask_txid#0``): a turn run again adds no second copy.
    Column("line_key", String(160)),
    Index("ux_case_messages_line_key", "case_id", "line_key", unique=True),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(16), ForeignKey("cases.id"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("mime_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("platform_file_id", String(255)),
    Column("stored_path", String(500)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(32), nullable=False),
    Column("case_id", String(16), ForeignKey("cases.id"), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
