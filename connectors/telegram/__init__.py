"""Telegram customer channel.

``sender`` (PTB only) is importable without Rasa, for the agent desk; ``TelegramInput``
(the Rasa channel named in ``credentials.yml``) is loaded only when asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TelegramInput"]


def __getattr__(name: str) -> Any:
    if name == "TelegramInput":
        from connectors.telegram.channel import TelegramInput

        return TelegramInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
