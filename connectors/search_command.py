"""``/search <words>``: the customer asks the help center directly (Telegram, REST and X direct messages).

Rasa reads a message that starts with "/" as an intent trigger (``/intent{"entity": ...}``), so
"/search withdrawal fee" would name an intent "search withdrawal fee" that does not exist and
reach the NLU as text, classified as whatever the words sound like (a P2 case, perhaps). Unlike
``/lang``, a search is a turn of the dialogue ("Did this solve it?" follows, and "No" leads to a
case), so the channel does not answer it itself: it hands Rasa the message already understood
(``UserMessage.parse_data``, which Rasa takes instead of parsing): the words as the text, so the
transcript and the case show what was searched; intent ``search_help_center``; and the words'
language as the ``language`` entity when their script makes it clear (the NLU's detector does
not run on a message that is not parsed). The text went through the gate first, like any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.language import SLOT
from bot.language.script import detect

COMMAND = "search"
INTENT = "search_help_center"
EXTRACTOR = "SearchCommand"
_TYPED = re.compile(r"^\s*/search(?:@[A-Za-z0-9_]+)?(?:\s+(?P<words>.*?))?\s*$", re.I | re.S)


@dataclass(frozen=True)
class SearchMessage:
    """What Rasa gets for a ``/search``: ``text`` (the words, or ``/search`` alone) and its ``parse_data``."""

    text: str
    parse_data: dict[str, Any]

    def as_understood(self, parsed: dict[str, Any]) -> SearchMessage:
        """The words as the NLU read them: a theft report typed after /search still gets the P1 flow."""
        return SearchMessage(self.text, parsed)

    @property
    def has_words(self) -> bool:
        return self.text != f"/{COMMAND}"


def search_message(text: str) -> SearchMessage | None:
    """The message for Rasa if ``text`` is ``/search [words]`` (``/search@bot`` too), else None."""
    match = _TYPED.match(text)
    if match is None:
        return None
    words = (match["words"] or "").strip()
    language = detect(words) if words else None
    entities = [{"entity": SLOT, "value": language, "start": 0, "end": len(words), "extractor": EXTRACTOR}]
    shown = words or f"/{COMMAND}"
    intent = {"name": INTENT, "confidence": 1.0}
    return SearchMessage(
        text=shown,
        parse_data={
            "text": shown,
            "intent": intent,
            "intent_ranking": [intent],
            "entities": entities if language else [],
        },
    )
