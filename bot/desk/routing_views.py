"""Teams and routing rules on the desk: everyone reads them, an admin changes them.

An edit is checked like the teams file, and more: intents must be ones the bot knows, and a
team that active agents or active transferred cases still use cannot be dropped. It is saved
in the database (``team_routing``) for every desk process, audited with the old and the new
routing; the teams file stays the default and is never written.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.cases.routing import Routing
from bot.cases.team_routing import SavedRouting
from bot.desk import inputs
from bot.desk.agent_views import admin_only
from bot.desk.context import DESK
from bot.desk.routing_book import KNOWN_INTENTS
from bot.desk.teams import TeamsFileError, routing_document

ACTION = "routing_change"


async def routing(request: web.Request) -> web.StreamResponse:
    """GET /api/routing: the routing in force, where it comes from, and the intents a route may name."""
    book = request.app[DESK].routing
    current, saved = await asyncio.to_thread(book.in_force)
    return web.json_response(_json(current, request["is_admin"], saved))


async def change_routing(request: web.Request) -> web.StreamResponse:
    """POST /api/routing ``{"teams", "default", "routes": [{"team", "intents", "priorities"}]}`` (admins only)."""
    await admin_only(request, ACTION, "changes teams and routing")
    context = request.app[DESK]
    book = context.routing
    body = await inputs.json_object(request)
    try:
        wanted = book.checked(body)
    except TeamsFileError as error:
        raise inputs.bad_request(str(error)) from None
    before = await asyncio.to_thread(book.current)
    dropped = set(before.teams) - set(wanted.teams)
    if uses := await asyncio.to_thread(book.uses, dropped):
        raise inputs.bad_request(f"cannot drop {', '.join(sorted(dropped))}: {'; '.join(uses[:5])}")
    saved = await asyncio.to_thread(book.save, wanted, request["agent"])
    detail = {"before": routing_document(before), "after": routing_document(wanted)}
    await asyncio.to_thread(context.desk.audit.record, actor=request["agent"], via="desk", action=ACTION, detail=detail)
    return web.json_response(_json(wanted, True, saved))


def _json(current: Routing, is_admin: bool, saved: SavedRouting | None) -> dict[str, Any]:
    return {
        **routing_document(current),
        "source": "desk" if saved is not None else "file",
        "updated_by": saved.updated_by if saved is not None else None,
        "updated_at": saved.updated_at.isoformat() if saved is not None else None,
        "known_intents": sorted(KNOWN_INTENTS),
        "is_admin": is_admin,
    }
