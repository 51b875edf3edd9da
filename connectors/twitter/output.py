"""Rasa's replies as X direct messages, with buttons as numbered choices (DMs have no buttons)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.twitter.identity import CHANNEL, user_id
from connectors.twitter.sender import XSender
from connectors.twitter.state import XState


class XOutput(OutputChannel):
    """Sends each bot message as a DM; remembers offered choices so "1" maps back to a payload.

    ``choice_hint(count)`` is the domain text telling the customer to reply with a number (in
    their language, which it may have to look up).
    """

    def __init__(self, sender: XSender, state: XState, choice_hint: Callable[[int], Awaitable[str]]) -> None:
        self._sender = sender
        self._state = state
        self._choice_hint = choice_hint

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in text.strip().split("\n\n"):
            if part.strip():
                await self._sender.send_dm(user_id(recipient_id), part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        choices = [(str(b.get("title", "")), str(b.get("payload", b.get("title", "")))) for b in buttons]
        await asyncio.to_thread(self._state.save_choices, recipient_id, choices)
        lines = [f"{number}. {title}" for number, (title, _payload) in enumerate(choices, start=1)]
        body = "\n".join([text, "", *lines, "", await self._choice_hint(len(choices))])
        await self._sender.send_dm(user_id(recipient_id), body)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)
