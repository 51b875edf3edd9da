"""Ask processes whether they are ready, as the supervisor does before it says "ready"."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

PROBE_TIMEOUT_SECONDS = 2.0


def not_ready(urls: Mapping[str, str]) -> dict[str, str]:
    """For each name whose URL does not answer 200, why (the readiness problems it lists, or the error)."""
    reasons: dict[str, str] = {}
    for name, url in urls.items():
        reason = _why_not_ready(url)
        if reason is not None:
            reasons[name] = reason
    return reasons


def _why_not_ready(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as reply:
            return None if reply.status == 200 else f"HTTP {reply.status}"
    except urllib.error.HTTPError as error:
        try:
            problems = json.loads(error.read() or b"{}").get("problems") or []
        except (ValueError, AttributeError):
            problems = []
        return ", ".join(map(str, problems)) or f"HTTP {error.code}"
    except OSError:  # refused, reset or timed out: still starting (or restarting)
        return "not answering yet"


def readiness_notes(urls: Mapping[str, str]) -> dict[str, list[str]]:
    """The notes each ready process lists (e.g. a channel still connecting); none for one that does not answer."""
    notes: dict[str, list[str]] = {}
    for name, url in urls.items():
        try:
            with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as reply:
                listed = json.loads(reply.read() or b"{}").get("notes") or []
        except (OSError, ValueError, AttributeError):
            continue
        if listed:
            notes[name] = [str(note) for note in listed]
    return notes
