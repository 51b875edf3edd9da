"""Who the customer of a case is, as the desk shows them: a name to read and the handle that finds them.

The handle is the channel's own stable id (Telegram user id, X user, REST sender), which
search matches and links join; the name is what the channel was told (Telegram profile,
REST display name, X username), else the handle. A name is only shown: it identifies nobody.
"""

from __future__ import annotations

import re
from typing import Any

from bot.cases.customer_links import Link, handle_of
from bot.cases.store import Case

NAME_DETAILS = ("customer_name", "x_username")  # what a channel may have recorded about the person
_USERNAME_BESIDE = re.compile(r" \(@\w+\)$")  # as ``connectors.telegram.handler.profile_name`` writes it


def customer_json(case: Case) -> dict[str, Any]:
    handle = handle_of(case)
    name = next((str(case.details[k]) for k in NAME_DETAILS if case.details.get(k)), None)
    if name and case.details.get("x_username") == name:
        name = "@" + name
    return {"name": name or handle, "handle": handle}


def greeting_name(case: Case) -> str:
    """The name a reply greets the customer by: their profile's name without the ``(@username)`` shown beside it."""
    return _USERNAME_BESIDE.sub("", customer_json(case)["name"])


def history_json(case: Case) -> dict[str, Any]:
    """One of the customer's other cases, as the case page lists it."""
    return {
        "id": case.id,
        "intent": case.intent,
        "priority": case.priority,
        "status": case.status,
        "channel": case.channel,
        "created_at": case.created_at.isoformat(),
        "customer": customer_json(case),
    }


def link_json(link: Link) -> dict[str, Any]:
    return {"first": link.first, "second": link.second, "linked_by": link.linked_by, "at": link.linked_at.isoformat()}
