"""Names for transcript lines, made from the customer message each belongs to.

A turn can run more than once (a crash replay, a failed action call, a retried X event), and
each try records its customer line and its replies again. The case keeps one line per key.
The channels name replies as they go out and the actions name the tracker's lines when they
open a case alike, so a replay after the case opened copies neither.
"""

from __future__ import annotations

import hashlib
from collections import Counter


def notice_key(message_id: str | None, name: str) -> str | None:
    """A response the channel says outside the dialogue (a secret warning, the language list)."""
    return None if message_id is None else f"{message_id} !{name}"


class ReplyKeys:
    """Keys for one turn's replies: the response's name (or the text's digest) and how often it came before."""

    def __init__(self, message_id: str | None) -> None:
        self._message_id = message_id
        self._seen: Counter[str] = Counter()

    @property
    def customer(self) -> str | None:
        """The customer's own line: the message id itself."""
        return self._message_id

    def next(self, response: str | None, text: str) -> str | None:
        if self._message_id is None:
            return None
        name = response or "text:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        index = self._seen[name]
        self._seen[name] += 1
        return f"{self._message_id} {name}#{index}"
