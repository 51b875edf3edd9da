"""The X (Twitter) channel: public replies to mentions, the full flow in direct messages.

``TwitterInput`` (the Rasa channel) is loaded lazily, so the agent desk can import
``connectors.twitter.sender`` without importing Rasa.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TwitterInput"]


def __getattr__(name: str) -> Any:
    if name == "TwitterInput":
        from connectors.twitter.channel import TwitterInput

        return TwitterInput
    raise AttributeError(name)
