"""How X users are named across the project (no Rasa): the case channel and conversation key.

The desk uses these to answer an X customer through ``XSender.send_dm``.
"""

from __future__ import annotations

CHANNEL = "twitter"
SENDER_PREFIX = "x:"


def conversation_key(user_id: str) -> str:
    """The Rasa sender id (and case sender) of an X user: ``x:<user_id>``."""
    return SENDER_PREFIX + user_id


def user_id(conversation: str) -> str:
    """The X user id behind a conversation key (the DM participant id)."""
    return conversation.removeprefix(SENDER_PREFIX)


def event_log_id(kind: str, event_id: str) -> str:
    """The id an event's log lines carry, and the Rasa message id of a DM: ``x-dm-<event id>``."""
    return f"x-{kind}-{event_id}"
