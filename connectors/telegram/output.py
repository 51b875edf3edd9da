"""Rasa's side of sending: bot responses become outbox rows for the customer's chat."""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.sender import split_text

logger = logging.getLogger(__name__)

CHANNEL = "telegram"


def sender_id(chat_id: int, user_id: int) -> str:
    """The conversation key: the user in a chat, so group members never share a conversation."""
    return f"tg:{chat_id}:{user_id}"


def chat_of(recipient_id: str) -> int:
    """The chat id inside a ``tg:<chat_id>:<user_id>`` conversation key."""
    prefix, chat, _user = recipient_id.split(":")
    if prefix != "tg":
        raise ValueError(f"not a Telegram conversation key: {recipient_id!r}")
    return int(chat)


def bodies_for(message: dict[str, Any], reply_to: int | None = None) -> list[dict[str, Any]]:
    """One Rasa response as outbox bodies: text split to Telegram's size, buttons on the last part."""
    bodies: list[dict[str, Any]] = []
    text = message.get("text") or ""
    buttons = [
        {"title": b.get("title", ""), "payload": b.get("payload"), "url": b.get("url")}
        for b in (message.get("buttons") or message.get("quick_replies") or [])
    ]
    parts = split_text(text) if text else []
    for index, part in enumerate(parts):
        body: dict[str, Any] = {"kind": "text", "text": part}
        if index == len(parts) - 1 and buttons:
            body["buttons"] = buttons
        if index == 0 and reply_to is not None:
            body["reply_to"] = reply_to
        bodies.append(body)
    if message.get("image"):
        bodies.append({"kind": "photo", "url": message["image"]})
    if message.get("attachment"):
        attachment = message["attachment"]
        url = attachment.get("payload", {}).get("src") if isinstance(attachment, dict) else attachment
        if url:
            bodies.append({"kind": "document", "url": url})
    if message.get("custom"):
        logger.info("custom payload not sent on Telegram: %s", sorted(message["custom"]))
    return bodies


class TelegramOutput(OutputChannel):
    """Sends through the connector's outbox, tagged with the update being answered (if any)."""

    def __init__(self, runtime: TelegramRuntime, update_id: int | None = None, reply_to: int | None = None) -> None:
        self._runtime = runtime
        self._update_id = update_id
        self._reply_to = reply_to

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        bodies = bodies_for(message, self._reply_to)
        await self._runtime.deliver(chat_of(recipient_id), self._update_id, bodies, key=message.get("utter_action"))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"attachment": attachment})
