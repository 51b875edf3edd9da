"""REST conversation ids belong to the server: issued at random, proven with a secret.

A REST client never names its own conversation key. The first message gets a fresh id and
a secret; every later message and every mailbox read must present both. The tracker key
is ``rest:<id>``, so no client can reach a Telegram or X conversation (``tg:…``, ``x:…``) or
another REST customer's. Only a SHA-256 of the secret is stored.

No Rasa imports: the desk may use this module too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine

from bot.migrations.runner import ensure_schema

PREFIX = "rest:"
_ID = re.compile(r"[A-Za-z0-9_-]{22}")

metadata = MetaData()

rest_conversations = Table(
    "rest_conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class IssuedConversation:
    """What the client must keep: the id (sent as ``sender``) and its secret (the bearer token)."""

    conversation_id: str
    secret: str

    @property
    def sender_key(self) -> str:
        return sender_key(self.conversation_id)


def sender_key(conversation_id: str) -> str:
    """The key Rasa, the cases and the mailbox know this conversation by."""
    return PREFIX + conversation_id


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RestConversations:
    """Issue REST conversation ids and check that a request holds the id's secret."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def issue(self) -> IssuedConversation:
        """A new conversation: 128-bit random id, 256-bit random secret."""
        issued = IssuedConversation(conversation_id=secrets.token_urlsafe(16), secret=secrets.token_urlsafe(32))
        with self._engine.begin() as conn:
            conn.execute(
                insert(rest_conversations).values(
                    id=issued.conversation_id,
                    secret_sha256=_digest(issued.secret),
                    created_at=datetime.now(timezone.utc),
                )
            )
        return issued

    def verify(self, conversation_id: str, secret: str) -> bool:
        """True only for an issued id presented with its own secret (compared in constant time)."""
        if _ID.fullmatch(conversation_id) is None or not secret:
            return False
        with self._engine.connect() as conn:
            stored = conn.execute(
                select(rest_conversations.c.secret_sha256).where(rest_conversations.c.id == conversation_id)
            ).scalar()
        return stored is not None and hmac.compare_digest(stored, _digest(secret))
