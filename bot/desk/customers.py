"""Who the customer of a case is, as the queue shows them: a name to read and the handle that finds them.

The handle is the channel's own stable id (Telegram user id, X user, REST sender), which
search matches; the name is what the case knows them by, else the handle.
"""

from __future__ import annotations

from typing import Any

from bot.cases.store import Case

NAME_DETAILS = ("customer_name", "x_username")  # what a channel may have recorded about the person


def customer_json(case: Case) -> dict[str, Any]:
    handle = _handle(case)
    name = next((str(case.details[k]) for k in NAME_DETAILS if case.details.get(k)), None)
    if name and case.details.get("x_username") == name:
        name = "@" + name
    return {"name": name or handle, "handle": handle}


def _handle(case: Case) -> str:
    """``tg:<user id>`` (also for a group chat's member), ``x:<user id>``, or the REST sender."""
    if case.channel == "telegram" and case.sender_id.startswith("tg:"):
        return "tg:" + case.sender_id.rsplit(":", 1)[-1]
    return case.sender_id
