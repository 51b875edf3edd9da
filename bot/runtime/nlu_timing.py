"""Time every NLU parse in the Rasa server and count the intents it finds (``bot.metrics.nlu``).

Rasa has no hook around parsing, so ``MessageProcessor.parse_message`` (each message's
parse, and the X channel's intent-only reads) is wrapped, once per process.
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker

from bot.metrics import nlu

_installed = False


def install() -> None:
    """Wrap the parse (idempotent)."""
    global _installed
    if _installed:
        return
    original = MessageProcessor.parse_message

    async def parse_message(
        self: MessageProcessor,
        message: UserMessage,
        tracker: DialogueStateTracker | None = None,
        only_output_properties: bool = True,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        parsed: dict[str, Any] = await original(self, message, tracker, only_output_properties)
        intent = (parsed.get("intent") or {}).get("name")
        nlu.parsed(time.perf_counter() - started, intent, self.domain.intents if self.domain else ())
        return parsed

    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
    _installed = True
