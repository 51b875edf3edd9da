"""The actions' one way to the case store, and what a case needs from the tracker.

The store is built on first use (never at import time) and then shared by every action
in the action server process.
"""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from bot.cases.database import make_engine
from bot.cases.escalations import Escalations
from bot.cases.line_keys import ReplyKeys
from bot.cases.store import CaseStore, TranscriptLine
from bot.settings import Settings

DEFAULT_CHANNEL = "rest"


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    """The process-wide case store for ``DATABASE_URL`` (call ``case_store.cache_clear()`` in tests)."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url, timeouts=settings.database_timeouts)
    return CaseStore(engine, default_wait_minutes=settings.default_wait_minutes)


@lru_cache(maxsize=1)
def escalations() -> Escalations:
    """One-time case steps, shared with the desk (so a notice the bot gave is not repeated)."""
    return Escalations(case_store().engine)


def channel_of(tracker: Tracker) -> str:
    """The case store's channel name for this conversation."""
    return tracker.get_latest_input_channel() or DEFAULT_CHANNEL


def transcript_of(tracker: Tracker) -> list[TranscriptLine]:
    """The conversation so far (already redacted by the gate), as the case keeps it.

    Each line is keyed as the channel keys it when it goes out (``line_keys``), so the lines
    a turn run again says once more are not copied after the case it opened.
    """
    lines: list[TranscriptLine] = []
    keys = ReplyKeys(None)
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            keys = ReplyKeys(event.get("message_id"))
        text = event.get("text")
        if not text:
            continue
        if kind == "user":
            lines.append(TranscriptLine(role="customer", text=text, author=tracker.sender_id, key=keys.customer))
        elif kind == "bot":
            response = (event.get("metadata") or {}).get("utter_action")
            lines.append(TranscriptLine(role="bot", text=text, key=keys.next(response, text)))
    return lines
