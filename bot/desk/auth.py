"""Sign-in sessions and request guards: session cookie, same-origin POSTs and websockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.cases.agents import session_key
from bot.desk.context import DESK

COOKIE = "desk_session"
# Open without signing in: /metrics is limited by network instead; /help is the customers' help center.
PUBLIC_PREFIXES = ("/login", "/static/", "/healthz", "/readyz", "/metrics", "/help")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def expected_origin(request: web.Request) -> str:
    configured = request.app[DESK].settings.public_origin
    return configured or f"{request.scheme}://{request.host}"


def same_origin(request: web.Request) -> bool:
    """The browser says where the request comes from; only our own page may act."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer", "")
        origin = "/".join(referer.split("/", 3)[:3]) if referer else None
    return origin == expected_origin(request)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse cross-origin writes and websockets, and anything unsigned-in outside the public pages."""
    is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
    if (request.method in UNSAFE_METHODS or is_ws) and not same_origin(request):
        raise web.HTTPForbidden(text="cross-origin request refused")
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    context = request.app[DESK]
    token = request.cookies.get(COOKIE, "")
    name = await asyncio.to_thread(context.sessions.agent_for, token) if token else None
    agent = await asyncio.to_thread(context.agents.get, name) if name else None  # removed agents are signed out
    if agent is None:
        if request.path.startswith("/api/") or is_ws:
            raise web.HTTPUnauthorized(text="sign in first")
        raise web.HTTPFound("/login")
    request["agent"] = agent.name
    request["is_admin"] = agent.is_admin
    request["session"] = session_key(token)
    # Reading pages and polling is not activity: only the agent's own actions put them on duty.
    return await handler(request)


async def authenticate(request: web.Request, name: str, password: str) -> bool:
    """Check a password in constant time whether or not the name exists."""
    return await asyncio.to_thread(request.app[DESK].credentials.check, name, password)


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[DESK].settings.cookie_secure,
        path="/",
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No framing (clickjacking), no sniffing, scripts only from the desk itself, nothing cached."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
