"""Read an update the library cannot parse, or not store, from its raw JSON, so no customer message is dropped.

``Update.de_json`` refuses payload shapes it does not know (older clients, a poll without
``persistent_id``, a thumbnail without sizes). What the support conversation needs is
small: who wrote, in which chat, the text or caption, and what kind of attachment came
with it. That core is rebuilt from the raw dict and parsed again; anything else is dropped.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram import Bot, Update

from connectors.gate import valid_strings

logger = logging.getLogger(__name__)

MESSAGE_FIELDS = ("message", "edited_message")
ATTACHMENT_KINDS = (
    "photo", "document", "video", "voice", "audio", "sticker", "animation", "video_note",
    "location", "venue", "contact", "poll", "dice", "game", "story",
)  # fmt: skip


def whole_characters(payload: dict[str, Any]) -> dict[str, Any]:
    r"""The update with each half of a UTF-16 pair that stands alone (a JSON ``\ud800``) as U+FFFD.

    JSON may escape one; Python keeps it, but no UTF-8 store (the inbox, Rasa's tracker) can,
    so the webhook answered 500 to every redelivery and the customer was never told.
    """
    text = json.dumps(payload, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        logger.warning("update %s holds half a UTF-16 pair; stored with U+FFFD in its place", _id(payload))
        return dict(valid_strings(payload))
    return payload


def parse_update(payload: dict[str, Any], bot: Bot) -> Update | None:
    """The update as PTB reads it, else its readable core; ``None`` when not even that is there.

    PTB does not check types: a ``text`` or a sender's ``first_name`` that is a number came
    through and failed the turn at every try, so the customer was told something went wrong
    (and a theft report opened no case). Such an update is read from its core instead.
    """
    try:
        update = Update.de_json(payload, bot)
    except Exception as error:
        logger.warning("update %s has a shape the library cannot read (%s); reading its core", _id(payload), error)
    else:
        if _strings_where_the_api_has_strings(update):
            return update
        logger.warning("update %s has a number or object where the Bot API has a string; reading its core",
                       _id(payload))
    core = readable_core(payload)
    if core is None:
        return None
    try:
        return Update.de_json(core, bot)
    except Exception:
        logger.warning("update %s cannot be read even from its core", _id(payload))
        return None


def _strings_where_the_api_has_strings(update: Update) -> bool:
    """The fields the conversation reads (words, the sender's profile, the chat's type) are strings or absent."""
    message, user, chat = update.message or update.edited_message, update.effective_user, update.effective_chat
    fields = [
        *((message.text, message.caption) if message is not None else ()),
        *((user.first_name, user.last_name, user.username, user.language_code) if user is not None else ()),
        chat.type if chat is not None else None,
    ]
    return all(isinstance(field, (str, type(None))) for field in fields)


def readable_core(payload: dict[str, Any]) -> dict[str, Any] | None:
    """``update_id`` and one message with chat, sender, date and its text (or caption), nothing else.

    A caption stands in for the text, because the attachment itself could not be read.
    Without text, the message carries no words to act on: ``None``.
    """
    for field in MESSAGE_FIELDS:
        message = payload.get(field)
        if not isinstance(message, dict):
            continue
        chat, sender = message.get("chat"), message.get("from")
        text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
        if not (isinstance(chat, dict) and isinstance(sender, dict) and isinstance(text, str) and text):
            return None
        if type(chat.get("id")) is not int or type(sender.get("id")) is not int:
            return None
        return {
            "update_id": payload["update_id"],
            field: {
                "message_id": message.get("message_id") if type(message.get("message_id")) is int else 0,
                "date": message.get("date") if type(message.get("date")) is int else 0,
                "chat": {"id": chat["id"], "type": str(chat.get("type") or "private")},
                "from": {
                    "id": sender["id"],
                    "is_bot": bool(sender.get("is_bot")),
                    "first_name": str(sender.get("first_name") or ""),
                },
                "text": text,
            },
        }
    return None


def attachment_kind(payload: dict[str, Any]) -> str | None:
    """What came with the message (photo, poll, ...), for the log and the kept error."""
    for field in MESSAGE_FIELDS:
        message = payload.get(field)
        if isinstance(message, dict):
            return next((kind for kind in ATTACHMENT_KINDS if kind in message), None)
    return None


def lost_attachment(payload: dict[str, Any], update: Update) -> str | None:
    """The kind of attachment the payload had and ``update`` (read from its core) lost, so the customer is told."""
    message = update.message or update.edited_message
    if message is None or message.effective_attachment is not None:
        return None
    return attachment_kind(payload)


def chat_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The update's chat (of its message, or of the message a pressed button is on), unparsed."""
    for value in payload.values():
        if not isinstance(value, dict):
            continue
        inner = value.get("message")
        for holder in (value, inner if isinstance(inner, dict) else {}):
            chat = holder.get("chat")
            if isinstance(chat, dict) and type(chat.get("id")) is int:
                return chat
    return None


def private_chat_of(payload: dict[str, Any]) -> int | None:
    """The private chat to tell that its message could not be read (groups are never answered unasked)."""
    chat = chat_of(payload)
    return int(chat["id"]) if chat is not None and chat.get("type") == "private" else None


def _id(payload: dict[str, Any]) -> object:
    return payload.get("update_id")
