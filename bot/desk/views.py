"""HTTP views of the desk: pages, the JSON API the page uses, exports and the live socket."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.cases.audit import AuditEntry
from bot.cases.customer_links import LINK, UNLINK, handle_of
from bot.cases.database import DATABASE_UNAVAILABLE
from bot.cases.helpful_articles import ARTICLES_TRIED
from bot.cases.priorities import P1, P4
from bot.cases.queue import QueueFilter, find_cases, reply_times
from bot.cases.routing import Routing
from bot.cases.store import (
    ACTIVE_STATUSES,
    CANCELLED,
    CLAIMED,
    OPEN,
    RESOLVED,
    Case,
    CaseNotFound,
    TranscriptLine,
    utcnow,
)
from bot.desk import inputs
from bot.desk.auth import COOKIE, authenticate, set_session_cookie
from bot.desk.context import DESK
from bot.desk.customers import customer_json, greeting_name, history_json, link_json
from bot.desk.destinations import case_json
from bot.desk.help_pages import HELP_CENTER
from bot.desk.service import Actor, Refused
from bot.desk.sla import sla_fields
from bot.desk.telegram_replies import Delivery
from bot.helpcenter.articles import ARTICLE_ID
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.library import Library
from bot.language import NAMES
from bot.language.script import detect

STATIC = Path(__file__).resolve().parent / "static"
ACTIONS = frozenset({"claim", "reply", "note", "priority", "resolve", "hand_back", "reopen", "transfer", LINK, UNLINK})
MY_TEAMS = "mine"
STATUS_FILTERS = {
    "active": ACTIVE_STATUSES,
    OPEN: (OPEN,),
    CLAIMED: (CLAIMED,),
    RESOLVED: (RESOLVED,),
    CANCELLED: (CANCELLED,),
    "closed": (RESOLVED, CANCELLED),
    "all": (OPEN, CLAIMED, RESOLVED, CANCELLED),
}
CHANNELS = ("telegram", "twitter", "rest")
MAX_SEARCH_CHARS = 200
EXPORT_FORMATS = ("txt", "json")
UNKNOWN_NAME = "(unknown name)"
RETRY_AFTER_SECONDS = 5
# Raster images the desk previews on the case page. Never SVG: it can carry script.
PREVIEW_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

logger = logging.getLogger(__name__)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Domain errors to HTTP: unknown case 404, refused action 409 with the reason, database down 503.

    A 503 tells the page (and the agent) that the database, not the request, is at fault
    and the same click may be tried again; a 500 would leave them guessing.
    """
    try:
        return await handler(request)
    except CaseNotFound as error:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no case {error}"}), content_type="application/json"
        ) from None
    except Refused as error:
        raise web.HTTPConflict(text=json.dumps({"error": str(error)}), content_type="application/json") from None
    except DATABASE_UNAVAILABLE as error:
        logger.warning("database unavailable for %s %s", request.method, request.path, exc_info=error)
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "the case database is not answering: try again in a few seconds"}),
            content_type="application/json",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None


async def routing_in_force(request: web.Request) -> Routing:
    """The teams and routes as they stand now (an admin may have changed them since the last request)."""
    return await asyncio.to_thread(request.app[DESK].routing.current)


def _actor(request: web.Request) -> Actor:
    return Actor(name=request["agent"], via="desk", is_admin=request["is_admin"])


async def _acting(request: web.Request) -> Actor:
    """The agent acts on a case: that, and never an open tab's polling, keeps them on duty."""
    await asyncio.to_thread(request.app[DESK].desk.roster.on_duty, request["agent"], via="desk")
    return _actor(request)


async def login_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "login.html")


async def login(request: web.Request) -> web.StreamResponse:
    form = await inputs.form(request)
    name = inputs.form_text(form, "name", inputs.MAX_NAME_CHARS).strip()
    password = inputs.form_text(form, "password", inputs.MAX_PASSWORD_CHARS)
    context = request.app[DESK]
    address = request.remote or "unknown"
    wait = context.sign_ins.attempt(address, name)
    if wait:
        seconds = math.ceil(wait)
        raise web.HTTPTooManyRequests(
            text=f"Too many sign-in attempts: try again in {seconds} seconds.", headers={"Retry-After": str(seconds)}
        )
    if not await authenticate(request, name, password):
        await _audit_failed_sign_in(request, name, address)
        raise web.HTTPFound("/login?failed=1")
    context.sign_ins.succeeded(address, name)
    token = await asyncio.to_thread(context.sessions.start, name)
    await asyncio.to_thread(context.desk.roster.on_duty, name, via="desk")
    await asyncio.to_thread(context.desk.audit.record, actor=name, via="desk", action="sign_in")
    response = web.HTTPFound("/")
    set_session_cookie(request, response, token)
    raise response


async def _audit_failed_sign_in(request: web.Request, name: str, address: str) -> None:
    """An agent's name is kept; any other typed name is not, since people type their password there."""
    known = await asyncio.to_thread(request.app[DESK].agents.get, name) is not None
    await asyncio.to_thread(
        request.app[DESK].desk.audit.record,
        actor=name if known else UNKNOWN_NAME,
        via="desk",
        action="sign_in",
        allowed=False,
        detail={"reason": "wrong password" if known else "unknown name", "remote": address},
    )


async def logout(request: web.Request) -> web.StreamResponse:
    context = request.app[DESK]
    await asyncio.to_thread(context.sessions.end, request.cookies[COOKIE])
    await context.hub.close_session(request["session"])
    await asyncio.to_thread(context.desk.roster.off_duty, request["agent"])
    await asyncio.to_thread(context.desk.audit.record, actor=request["agent"], via="desk", action="sign_out")
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def me(request: web.Request) -> web.StreamResponse:
    context = request.app[DESK]
    on_duty = [a.agent for a in await asyncio.to_thread(context.desk.roster.current)]
    agent = await asyncio.to_thread(context.agents.get, request["agent"])
    return web.json_response(
        {
            "agent": request["agent"],
            "teams": list(agent.teams) if agent else [],
            "all_teams": list((await routing_in_force(request)).teams),
            "is_admin": request["is_admin"],
            "is_on_duty": request["agent"] in on_duty,
            "on_duty": on_duty,
            "sla_minutes": {str(k): v for k, v in context.settings.sla_minutes.items()},
            "now": utcnow().isoformat(),
        }
    )


async def duty(request: web.Request) -> web.StreamResponse:
    """POST /api/duty ``{"on_duty": true|false}``: the agent goes on or off duty by hand."""
    context = request.app[DESK]
    on = inputs.flag(await inputs.json_object(request), "on_duty")
    agent = request["agent"]
    if on:
        await asyncio.to_thread(context.desk.roster.on_duty, agent, via="desk")
    else:
        await asyncio.to_thread(context.desk.roster.off_duty, agent)
    await asyncio.to_thread(context.desk.audit.record, actor=agent, via="desk", action="on_duty" if on else "off_duty")
    return await me(request)


async def queue(request: web.Request) -> web.StreamResponse:
    """GET /api/queue?status=&priority=&channel=&mine=1&q=: the working queue by default."""
    context = request.app[DESK]
    routing = await routing_in_force(request)
    cases = await asyncio.to_thread(find_cases, context.engine, await _queue_filter(request, routing))
    times = await asyncio.to_thread(reply_times, context.engine, [c.id for c in cases])
    sla_minutes = context.settings.sla_minutes
    return web.json_response(
        {
            "cases": [
                {
                    **case_json(c),
                    **sla_fields(c, times[c.id], sla_minutes),
                    "customer": customer_json(c),
                    "team": routing.team_of(c),
                }
                for c in cases
            ],
            "now": utcnow().isoformat(),
        }
    )


async def _queue_filter(request: web.Request, routing: Routing) -> QueueFilter:
    query = request.query
    team = query.get("team") or None
    teams: tuple[str, ...] | None = None
    if team == MY_TEAMS:
        agent = await asyncio.to_thread(request.app[DESK].agents.get, request["agent"])
        teams = agent.teams if agent else ()
    elif team is not None:
        if team not in routing.teams:
            raise inputs.bad_request(f"team must be {MY_TEAMS} or one of {', '.join(routing.teams)}")
        teams = (team,)
    status = query.get("status") or "active"
    if status not in STATUS_FILTERS:
        raise inputs.bad_request(f"status must be one of {', '.join(STATUS_FILTERS)}")
    priority = query.get("priority") or None
    if priority is not None and priority not in {"1", "2", "3", "4"}:
        raise inputs.bad_request("priority must be 1 to 4")
    channel = query.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise inputs.bad_request(f"channel must be one of {', '.join(CHANNELS)}")
    search = query.get("q", "")
    if len(search) > MAX_SEARCH_CHARS or "\x00" in search:
        raise inputs.bad_request(f"search is at most {MAX_SEARCH_CHARS} characters of text")
    return QueueFilter(
        statuses=STATUS_FILTERS[status],
        priority=int(priority) if priority else None,
        channel=channel,
        assignee=request["agent"] if query.get("mine") in ("1", "true") else None,
        teams=teams,
        routing=routing,
        search=search,
    )


async def case_view(request: web.Request) -> web.StreamResponse:
    context = request.app[DESK]
    case_id = request.match_info["case_id"].upper()
    case = await asyncio.to_thread(context.store.get, case_id)
    attachments = await asyncio.to_thread(context.store.attachments, case_id)
    transcript = await asyncio.to_thread(context.store.transcript, case_id)
    audit = await asyncio.to_thread(context.desk.audit.entries, case_id)
    deliveries = await asyncio.to_thread(context.desk.relay.deliveries, case, transcript)
    links = context.desk.links
    times = await asyncio.to_thread(reply_times, context.engine, [case.id])
    data = {**case_json(case, attachments), **sla_fields(case, times[case.id], context.settings.sla_minutes)}
    data["customer"] = customer_json(case)
    handle = handle_of(case)
    data["history"] = [history_json(c) for c in await asyncio.to_thread(links.history, handle, without=case.id)]
    data["links"] = [link_json(link) for link in await asyncio.to_thread(links.links, handle)]
    data["team"] = (await routing_in_force(request)).team_of(case)
    for shown, stored in zip(data["attachments"], attachments, strict=True):
        shown["image"] = _previewable(stored)
    data["transcript"] = [{**_line(t), "delivery": _delivery(d)} for t, d in zip(transcript, deliveries, strict=True)]
    data["audit"] = [_audit(a) for a in audit]
    data["articles_tried"] = await _articles_tried(request, case)
    return web.json_response(data)


async def _articles_tried(request: web.Request, case: Case) -> list[dict[str, str]]:
    """The help-center articles the customer was shown before the case, as links to the desk's own pages.

    Titled in English for the agent; the link opens the page in the customer's language, as they read it.
    """
    ids = [i for i in case.details.get(ARTICLES_TRIED) or [] if isinstance(i, str) and ARTICLE_ID.fullmatch(i)]
    if not ids:
        return []
    try:
        library: Library | None = await asyncio.to_thread(request.app[HELP_CENTER].current)
    except HelpCenterError:
        logger.exception("help center cannot be read; articles tried shown by id")
        library = None
    tried = []
    for article_id in ids:
        article = None
        if library is not None:
            article = library.get("en", article_id) or library.get(case.language, article_id)
        title = article.title if article is not None else article_id
        tried.append({"id": article_id, "title": title, "url": f"/help/{case.language}/{article_id}"})
    return tried


async def canned(request: web.Request) -> web.StreamResponse:
    """GET /api/cases/{id}/canned: the replies of the case's team, in the customer's language, filled in."""
    context = request.app[DESK]
    case = await asyncio.to_thread(context.store.get, request.match_info["case_id"])
    team = (await routing_in_force(request)).team_of(case)
    values = {
        "customer_name": greeting_name(case),
        "case_id": case.id,
        "official_domains": ", ".join(context.settings.core.official_domains),
    }
    replies = [
        {"id": r.id, "title": r.title, "text": r.render(case.language, **values)}
        for r in context.settings.canned_replies
        if r.serves(team)
    ]
    return web.json_response({"team": team, "language": case.language, "replies": replies})


def _line(line: TranscriptLine) -> dict[str, Any]:
    """A transcript line as written (never translated); a customer's with the language its script shows."""
    language = detect(line.text) if line.role == "customer" else None
    at = line.at.isoformat()
    return {"role": line.role, "author": line.author, "text": line.text, "at": at, "language": language}


def _delivery(delivery: Delivery | None) -> dict[str, Any] | None:
    """``queued``, ``sent`` or ``failed`` with its error; ``None`` for a line the desk did not send."""
    return None if delivery is None else asdict(delivery)


def _audit(entry: AuditEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["at"] = entry.at.isoformat()
    return data


async def act(request: web.Request) -> web.StreamResponse:
    """POST /api/cases/{id}/{action} with a JSON body: the page's buttons."""
    context = request.app[DESK]
    case_id, action = request.match_info["case_id"].strip().upper(), request.match_info["action"]
    if action not in ACTIONS:
        raise inputs.not_found("unknown action")
    body = await inputs.json_object(request)
    actor = await _acting(request)
    desk = context.desk
    if action == "claim":
        await desk.claim(actor, case_id, take_over="take_over" in body and inputs.flag(body, "take_over"))
    elif action == "reply":
        await desk.reply(actor, case_id, inputs.text(body, "text"), request_id=inputs.request_id(body))
    elif action == "note":
        await desk.note(actor, case_id, inputs.text(body, "text"))
    elif action == "priority":
        priority = inputs.whole_number(body, "priority")
        if not P1 <= priority <= P4:
            raise inputs.bad_request("priority must be 1 to 4")
        await desk.set_priority(actor, case_id, priority)
    elif action == "resolve":
        await desk.resolve(actor, case_id)
    elif action == "hand_back":
        await desk.hand_back(actor, case_id)
    elif action == "reopen":
        await desk.reopen(actor, case_id)
    elif action == LINK:
        await desk.link_customer(actor, case_id, inputs.text(body, "other"))
    elif action == UNLINK:
        await desk.unlink_customer(actor, case_id, inputs.text(body, "first"), inputs.text(body, "second"))
    elif action == "transfer":
        team, agent = await _transfer_target(request, body)
        await desk.transfer(actor, case_id, team=team, agent=agent, note=inputs.text(body, "note"))
    case = await asyncio.to_thread(context.store.get, case_id)
    return web.json_response(case_json(case))


async def _transfer_target(request: web.Request, body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The team (one of the routing's) and the agent (an active one) a transfer names."""
    context = request.app[DESK]
    team = inputs.text(body, "team") if body.get("team") else None
    teams = (await routing_in_force(request)).teams
    if team is not None and team not in teams:
        raise inputs.bad_request(f"team must be one of {', '.join(teams)}")
    agent = inputs.text(body, "agent") if body.get("agent") else None
    if agent is not None and await asyncio.to_thread(context.agents.get, agent) is None:
        raise inputs.bad_request(f"no agent {agent}")
    return team, agent


async def send_file(request: web.Request) -> web.StreamResponse:
    """POST /api/cases/{id}/file, multipart with one ``file`` field: a file for the customer."""
    context = request.app[DESK]
    upload = inputs.upload(await inputs.form(request), "file")
    data = upload.file.read()
    name = _safe_filename(upload.filename or "file")
    actor = await _acting(request)
    case = await context.desk.send_file(actor, request.match_info["case_id"], name, data, upload.content_type)
    return web.json_response(case_json(await asyncio.to_thread(context.store.get, case.id)))


async def typing(request: web.Request) -> web.StreamResponse:
    """POST /api/cases/{id}/typing: the agent is writing; a Telegram customer sees "typing...".

    Only for the agent who claimed the case (nobody else's words are coming), and at most
    once per case every few seconds; ``{"sent": false}`` when this keystroke fell inside that.
    """
    context = request.app[DESK]
    case = await asyncio.to_thread(context.store.get, request.match_info["case_id"].strip().upper())
    if case.status != CLAIMED or case.assignee != request["agent"]:
        raise Refused("typing is shown only for a case you have claimed")
    if case.channel != "telegram":
        raise Refused("typing is shown only to Telegram customers")
    if context.typing is None:
        raise Refused("TELEGRAM_BOT_TOKEN is not set for the desk: it cannot show typing to the customer")
    return web.json_response({"sent": await context.typing.shown(case)})


async def export(request: web.Request) -> web.StreamResponse:
    """The transcript as a download: ``?format=txt`` (default) or ``json``."""
    context = request.app[DESK]
    export_format = request.query.get("format", "txt")
    if export_format not in EXPORT_FORMATS:
        raise inputs.bad_request(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    case = await asyncio.to_thread(context.store.get, request.match_info["case_id"])
    transcript = await asyncio.to_thread(context.store.transcript, case.id)
    await asyncio.to_thread(
        context.desk.audit.record, actor=request["agent"], via="desk", action="export", case_id=case.id
    )
    if export_format == "json":
        body = json.dumps({"case": case_json(case), "transcript": [_line(t) for t in transcript]}, indent=2)
        filename, content_type = f"{case.id}.json", "application/json"
    else:
        header = f"Case {case.id} ({case.intent}, P{case.priority}, {case.status}, {NAMES.get(case.language)})"
        lines = [header, case.summary, ""]
        lines += [
            f"[{t.at:%Y-%m-%d %H:%M:%S}] {t.role}{' ' + t.author if t.author else ''}: {t.text}" for t in transcript
        ]
        body, filename, content_type = "\n".join(lines) + "\n", f"{case.id}.txt", "text/plain"
    return web.Response(
        text=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def attachment(request: web.Request) -> web.StreamResponse:
    context = request.app[DESK]
    case = await asyncio.to_thread(context.store.get, request.match_info["case_id"])
    wanted = int(request.match_info["attachment_id"])  # the route admits 1 to 18 ASCII digits
    for item in await asyncio.to_thread(context.store.attachments, case.id):
        if item["id"] == wanted and item["stored_path"] and Path(item["stored_path"]).is_file():
            filename = _safe_filename(item["name"])
            if _previewable(item):  # shown in the page's <img>; nosniff keeps a non-image from being read as one
                headers = {"Content-Type": item["mime_type"], "Content-Disposition": f'inline; filename="{filename}"'}
            else:
                headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
            return web.FileResponse(item["stored_path"], headers=headers)
    raise web.HTTPNotFound(text="attachment not stored")


def _previewable(item: dict[str, Any]) -> bool:
    """A stored raster image: the case page shows it (a missing file would be a broken picture)."""
    return item["mime_type"] in PREVIEW_IMAGE_TYPES and bool(item["stored_path"])


def _safe_filename(name: str) -> str:
    """A customer-chosen file name made harmless inside a header."""
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in Path(name).name)
    return cleaned[:100] or "attachment"


async def live(request: web.Request) -> web.StreamResponse:
    """The page's live feed; the origin check in the guard refuses other sites' pages."""
    hub = request.app[DESK].hub
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub.add(ws, request["session"])
    try:
        async for _message in ws:
            pass  # the page only listens
    finally:
        await hub.remove(ws)
    return ws
