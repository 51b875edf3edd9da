"""Real rasa_sdk trackers for action tests, built the way the Rasa server serialises them."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker

ROOT = Path(__file__).resolve().parents[2]
TRACKERS = ROOT / "tests" / "data" / "trackers"


@lru_cache(maxsize=1)
def domain() -> dict[str, Any]:
    """The bot's real domain, as the action server receives it."""
    return yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None, channel: str = "rest") -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.97}, "entities": entities or []},
    }


def bot(text: str) -> dict[str, Any]:
    return {"event": "bot", "text": text}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value), "extractor": "RegexEntityExtractor"}


def tracker(events: list[dict[str, Any]], sender_id: str = "customer-1", active_loop: str | None = None) -> Tracker:
    """A tracker whose slots and latest message follow from ``events`` (slots start as in the domain)."""
    slots: dict[str, Any] = {name: None for name in domain()["slots"]}
    slots["requested_slot"] = None
    latest: dict[str, Any] = {}
    for event in events:
        if event["event"] == "slot":
            slots[event["name"]] = event["value"]
        elif event["event"] == "user":
            latest = {**event["parse_data"], "text": event["text"]}
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": slots,
            "latest_message": latest,
            "events": events,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )


def fixture(name: str) -> Tracker:
    """A tracker dump from ``tests/data/trackers/<name>.json`` (the Rasa server's JSON shape)."""
    state = json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))
    return Tracker.from_dict(state)
