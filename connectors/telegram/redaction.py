"""Secrets out of a raw Telegram update before the inbox stores it.

The inbox keeps each update from before Telegram gets its 2xx until it is processed (for
as long as the worker is down), so texts, captions, file names and quoted messages are
redacted first, wherever they sit in the update, and their entities moved to match. What
was found is kept with the update (``REDACTED_KEY``): the customer is still told to rotate
it when the update is processed. A bare 64-hex string in a text stays for the gate, which
knows whether the bot asked for a txid; the inbox drops the update once it is processed.
What follows ``/start`` is a deep-link payload the handler hands to Rasa as metadata,
past the gate: it is never an answer to the bot, so it is read as a file name is.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from telegram import Update

from bot.cases.redaction import REDACTED, UNLABELLED_HEX, Redaction, redact, redact_file_name, redact_joined_words

REDACTED_KEY = "support_redacted"  # top-level key of a stored update: the kinds of secret taken out
_TEXTS = {"text": "entities", "caption": "caption_entities"}  # customer text -> its formatting entities
_COMMAND = re.compile(r"\s*/(?P<name>[A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?")  # "/start" stays, though a BIP-39 word


def redact_update(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` with every text, caption and file name redacted."""
    kinds: list[str] = []
    cleaned = _clean(payload, kinds)
    if kinds:
        cleaned[REDACTED_KEY] = list(dict.fromkeys(kinds))
    return cleaned


def redacted_kinds(update: Update) -> tuple[str, ...]:
    """The kinds of secret ``redact_update`` took out of this update."""
    return tuple(update.api_kwargs.get(REDACTED_KEY) or ())


def _clean(value: Any, kinds: list[str]) -> Any:
    if isinstance(value, list):
        return [_clean(item, kinds) for item in value]
    if not isinstance(value, dict):
        return value
    cleaned = {key: _clean(item, kinds) for key, item in value.items()}
    for text_key, entities_key in _TEXTS.items():
        text = value.get(text_key)
        if isinstance(text, str):
            redaction = _redact_text(text)
            cleaned[text_key] = redaction.text
            if isinstance(cleaned.get(entities_key), list):
                cleaned[entities_key] = _moved_entities(text, redaction, cleaned[entities_key])
            kinds += _to_rotate(redaction)
    name = value.get("file_name")
    if isinstance(name, str):
        redaction = redact_file_name(name)
        cleaned["file_name"] = redaction.text
        kinds += _to_rotate(redaction)
    return cleaned


def _to_rotate(redaction: Redaction) -> list[str]:
    """The kinds to warn about: a bare hash out of a file name or payload is nothing to ask again."""
    return [kind for kind in redaction.kinds if kind != UNLABELLED_HEX]


def _redact_text(text: str) -> Redaction:
    """Redact a text or caption, but never the command it starts with (only what follows it)."""
    command = _COMMAND.match(text)
    if command is None:
        return redact(text, txid_expected=True)
    cut = command.end()
    if command["name"].lower() == "start":
        rest = redact_joined_words(text[cut:])
    else:
        rest = redact(text[cut:], txid_expected=True)
    return replace(rest, text=text[:cut] + rest.text, spans=tuple((s + cut, e + cut) for s, e in rest.spans))


def _moved_entities(original: str, redaction: Redaction, entities: list[Any]) -> list[Any]:
    """Entities (offsets in UTF-16 code units) shifted to the redacted text; those over a secret dropped."""
    edges = [(_utf16_length(original[:start]), _utf16_length(original[:end])) for start, end in redaction.spans]
    moved = []
    for entity in entities:
        if not isinstance(entity, dict) or not all(isinstance(entity.get(k), int) for k in ("offset", "length")):
            continue
        offset, length = entity["offset"], entity["length"]
        if any(offset < end and start < offset + length for start, end in edges):
            continue
        shift = sum(len(REDACTED) - (end - start) for start, end in edges if end <= offset)
        moved.append({**entity, "offset": offset + shift})
    return moved


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
