"""What every channel needs from the running Rasa server: the gate, domain texts, tracker state.

Channels get the Sanic app with each request; the shared objects live on ``app.ctx`` and
are built on first use, never at import time.
"""

from __future__ import annotations

import random
from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.core.lock_store import LockError
from rasa.shared.core.events import UserUttered
from redis.exceptions import RedisError
from sanic import Sanic

from bot.cases.database import DATABASE_UNAVAILABLE, make_engine
from bot.cases.store import CaseStore
from bot.settings import Settings
from connectors.gate import TXID_SLOT, ConversationGate

UNAVAILABLE: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, RedisError, LockError)
"""What a turn raises while the database or Rasa's Redis lock store is unreachable: the client may retry."""


def conversation_gate(app: Sanic) -> ConversationGate:
    """The process-wide gate (and case store) for this Rasa server."""
    gate = getattr(app.ctx, "conversation_gate", None)
    if gate is None:
        settings = Settings.from_env()
        engine = make_engine(settings.database_url, timeouts=settings.database_timeouts)
        store = CaseStore(engine, default_wait_minutes=settings.default_wait_minutes)
        gate = ConversationGate(store)
        app.ctx.conversation_gate = gate
    return gate


def response_text(app: Sanic, name: str, **values: Any) -> str:
    """The text of domain response ``name`` (one variation), with ``{slots}`` filled from ``values``."""
    agent = getattr(app.ctx, "agent", None)
    variations = agent.domain.responses.get(name, []) if agent is not None and agent.domain else []
    texts = [v["text"] for v in variations if v.get("text")]
    if not texts:
        raise KeyError(f"domain has no text response {name!r}")
    text: str = random.choice(texts)
    return text.format(**values) if values else text


async def txid_expected(app: Sanic, sender_id: str) -> bool:
    """True when the bot's open question is the transaction id, so a bare hash is a txid."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker is not None and tracker.get_slot("requested_slot") == TXID_SLOT


async def turn_finished(app: Sanic, sender_id: str, message_id: str) -> bool:
    """True when Rasa saved a turn for this message: it saves the tracker only once a turn completes."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker is not None and any(
        isinstance(event, UserUttered) and event.message_id == message_id for event in tracker.events
    )


class TranscribingOutputChannel(OutputChannel):
    """Wraps a channel's output so every bot reply also lands in the open case's transcript."""

    def __init__(self, inner: OutputChannel, gate: ConversationGate, channel: str) -> None:
        self._inner = inner
        self._gate = gate
        self._channel = channel

    def name(self) -> str:  # type: ignore[override]
        return self._inner.name()

    @property
    def inner(self) -> OutputChannel:
        return self._inner

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if message.get("text"):
            await self._gate.record_bot_reply(channel=self._channel, sender_id=recipient_id, text=message["text"])
        await self._inner.send_response(recipient_id, message)
