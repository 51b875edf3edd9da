"""The agents page of the desk: every agent sees who the agents are; an admin adds and changes them.

Each change is audited (never the password). A new password or a removal ends the agent's
sessions for good; a removed agent is off duty at once, their claimed cases go back to the
queue, and they can no longer act from the agents' group.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.cases.agent_directory import Agent, AgentConflict, NewAgent
from bot.desk import inputs
from bot.desk.context import DESK
from bot.desk.passwords import hash_password
from bot.desk.service import Actor
from bot.desk.views import routing_in_force

MIN_PASSWORD_CHARS = 10
MAX_TELEGRAM_ID = 2**53  # Telegram's user ids fit 52 bits


async def agents(request: web.Request) -> web.StreamResponse:
    listed = await asyncio.to_thread(request.app[DESK].agents.all)
    return web.json_response(
        {
            "agents": [_json(a) for a in listed],
            "is_admin": request["is_admin"],
            "teams": list((await routing_in_force(request)).teams),
        }
    )


async def add_agent(request: web.Request) -> web.StreamResponse:
    """POST /api/agents ``{"name", "password", "role"?, "telegram_user_id"?}`` (admins only)."""
    await admin_only(request, "agent_add")
    body = await inputs.json_object(request)
    name = inputs.text(body, "name").strip()
    password = _password(body)
    role = body.get("role", "agent")
    if not isinstance(role, str):
        raise inputs.bad_request("'role' must be a string")
    telegram_user_id = _telegram_id(body)
    encoded = await asyncio.to_thread(hash_password, password)
    directory = request.app[DESK].agents
    try:
        agent = await asyncio.to_thread(directory.add, NewAgent(name, encoded, role, telegram_user_id))
    except AgentConflict as error:
        raise _conflict(error) from None
    await _audit(request, "agent_add", {"agent": agent.name, "role": agent.role, "telegram_user_id": telegram_user_id})
    return web.json_response(_json(agent))


async def change_agent(request: web.Request) -> web.StreamResponse:
    """POST /api/agents/{name} with any of ``role``, ``telegram_user_id`` (null unlinks), ``active``, ``password``."""
    await admin_only(request, "agent_change")
    body = await inputs.json_object(request)
    name = request.match_info["name"]
    changes: dict[str, Any] = {}
    if "role" in body:
        changes["role"] = inputs.text(body, "role")
    if "telegram_user_id" in body:
        linked = _telegram_id(body)
        changes["telegram_user_id"] = linked
        changes["unlink_telegram"] = linked is None
    if "active" in body:
        changes["active"] = inputs.flag(body, "active")
    if "password" in body:
        changes["password_hash"] = await asyncio.to_thread(hash_password, _password(body))
    teams = await _teams(request, body) if "teams" in body else None
    if not changes and teams is None:
        raise inputs.bad_request("nothing to change: give role, telegram_user_id, active, password or teams")
    directory = request.app[DESK].agents
    try:
        if teams is not None:
            await asyncio.to_thread(directory.set_teams, name, teams)
        agent = await asyncio.to_thread(lambda: directory.change(name, **changes))
    except LookupError:
        raise inputs.not_found(f"no agent {name}") from None
    except AgentConflict as error:
        raise _conflict(error) from None
    detail = {k: v for k, v in changes.items() if k != "password_hash"} | {"agent": name}
    if teams is not None:
        detail["teams"] = teams
    if "password_hash" in changes:
        detail["password"] = "reset"
    await _audit(request, "agent_change", detail)
    context = request.app[DESK]
    if "password_hash" in changes or changes.get("active") is False:
        await asyncio.to_thread(context.sessions.end_all, name)
    if changes.get("active") is False:
        await context.desk.agent_removed(Actor(name=request["agent"], via="desk", is_admin=True), name)
    return web.json_response(_json(agent))


async def admin_only(request: web.Request, action: str, what: str = "manages agents") -> None:
    """A 403 for anyone but an admin, audited as a refused ``action``."""
    if not request["is_admin"]:
        await asyncio.to_thread(
            request.app[DESK].desk.audit.record,
            actor=request["agent"],
            via="desk",
            action=action,
            allowed=False,
            detail={"reason": "not an admin"},
        )
        raise web.HTTPForbidden(text=json.dumps({"error": f"only an admin {what}"}), content_type="application/json")


async def _audit(request: web.Request, action: str, detail: dict[str, Any]) -> None:
    await asyncio.to_thread(
        request.app[DESK].desk.audit.record, actor=request["agent"], via="desk", action=action, detail=detail
    )


def _password(body: dict[str, Any]) -> str:
    password = inputs.text(body, "password")
    if len(password) < MIN_PASSWORD_CHARS:
        raise inputs.bad_request(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    return password


def _telegram_id(body: dict[str, Any]) -> int | None:
    """A Telegram user id (the number, not a @username), or null for none."""
    if body.get("telegram_user_id") is None:
        return None
    value = inputs.whole_number(body, "telegram_user_id")
    if not 0 < value < MAX_TELEGRAM_ID:
        raise inputs.bad_request("'telegram_user_id' is the user's number, as Telegram shows it (not a @username)")
    return value


async def _teams(request: web.Request, body: dict[str, Any]) -> list[str]:
    teams = body.get("teams")
    known = (await routing_in_force(request)).teams
    if not isinstance(teams, list) or not all(isinstance(t, str) and t in known for t in teams):
        raise inputs.bad_request(f"'teams' must be a list of {', '.join(known)}")
    return teams


def _conflict(error: AgentConflict) -> web.HTTPConflict:
    return web.HTTPConflict(text=json.dumps({"error": str(error)}), content_type="application/json")


def _json(agent: Agent) -> dict[str, Any]:
    return {
        "name": agent.name,
        "role": agent.role,
        "telegram_user_id": agent.telegram_user_id,
        "active": agent.active,
        "teams": list(agent.teams),
    }
