"""Messages waiting for a REST customer: REST has no push, so agents' replies wait here.

No Rasa imports: the agent desk posts through this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.migrations.runner import ensure_schema

metadata = MetaData()

rest_mailbox = Table(
    "rest_mailbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("author", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("buttons", JSON),  # [{"title", "payload"}]: choices the client shows as buttons (the 1-5 rating)
)


class RestMailbox:
    """Post a message for a REST customer; hand each message out exactly once on their poll."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def post(
        self, sender_id: str, text: str, author: str | None = None, buttons: Sequence[Mapping[str, str]] = ()
    ) -> None:
        with self._engine.begin() as conn:
            self.post_in(conn, sender_id, text, author, buttons)

    @staticmethod
    def post_in(
        conn: Connection, sender_id: str, text: str, author: str | None = None,
        buttons: Sequence[Mapping[str, str]] = (),
    ) -> None:
        """Post within ``conn``'s transaction (the case's line that says it): the two exist together or not."""
        conn.execute(
            insert(rest_mailbox).values(
                sender_id=sender_id,
                text=text,
                author=author,
                buttons=[dict(b) for b in buttons] or None,
                created_at=datetime.now(timezone.utc),
            )
        )

    def collect(self, sender_id: str) -> list[dict[str, Any]]:
        """Messages not yet delivered, oldest first, marked delivered in the same transaction."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(rest_mailbox.c.id, rest_mailbox.c.text, rest_mailbox.c.author, rest_mailbox.c.buttons)
                .where(rest_mailbox.c.sender_id == sender_id, rest_mailbox.c.delivered_at.is_(None))
                .order_by(rest_mailbox.c.id)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                conn.execute(
                    update(rest_mailbox)
                    .where(rest_mailbox.c.id.in_([r.id for r in rows]))
                    .values(delivered_at=datetime.now(timezone.utc))
                )
        return [
            {"recipient_id": sender_id, "text": r.text, "author": r.author or "agent"}
            | ({"buttons": r.buttons} if r.buttons else {})
            for r in rows
        ]
