"""The customer's display name: what their channel was told (Telegram profile, a REST client's metadata).

Channels pass it to Rasa as message metadata under ``CUSTOMER_NAME``; the case keeps it in its
details under the same key, and the desk shows it. Anyone can choose any name, so it is only
ever shown: identity is the channel's handle (``bot.cases.customer_links``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from bot.cases.redaction import redact

CUSTOMER_NAME = "customer_name"  # the metadata key channels set and the case detail the desk reads
MAX_NAME_CHARS = 64


def display_name(text: str) -> str | None:
    """``text`` fit to show: printable, one line, at most 64 characters, secrets redacted; None when empty."""
    printable = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    name = " ".join(printable.split())[:MAX_NAME_CHARS]
    return redact(name).text if name else None


def latest_name(events: Iterable[Mapping[str, Any]]) -> str | None:
    """The name the customer's newest message came with, from a tracker's events."""
    for event in reversed(list(events)):
        if event.get("event") != "user":
            continue
        name = (event.get("metadata") or {}).get(CUSTOMER_NAME)
        if isinstance(name, str) and name:
            return name
    return None
