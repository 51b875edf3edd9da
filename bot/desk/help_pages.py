"""The help center's pages, served by the desk so that the bot's links work without another server.

Public (customers read them without signing in); the files are reread when they change.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.helpcenter.articles import LANGUAGES
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.library import Library, LiveLibrary
from bot.helpcenter.pages import article_page, index_page

HELP_CENTER = web.AppKey("help_center", LiveLibrary)
DEFAULT_LANGUAGE = "en"

logger = logging.getLogger(__name__)


async def _library(request: web.Request) -> Library:
    """The articles as the files are now; 503 while the facts file cannot be read at all."""
    try:
        return await asyncio.to_thread(request.app[HELP_CENTER].current)
    except HelpCenterError:
        logger.exception("help center cannot be read")
        raise web.HTTPServiceUnavailable(text="the help center is being updated: try again shortly") from None


def _language(request: web.Request) -> str:
    language = request.match_info["language"]
    if language not in LANGUAGES:
        raise web.HTTPNotFound(text="no help center in that language")
    return language


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"/help/{DEFAULT_LANGUAGE}/")


async def with_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"/help/{_language(request)}/")


async def index(request: web.Request) -> web.StreamResponse:
    language = _language(request)
    return web.Response(text=index_page(await _library(request), language), content_type="text/html")


async def article(request: web.Request) -> web.StreamResponse:
    language = _language(request)
    library = await _library(request)
    found = library.get(language, request.match_info["article_id"])
    if found is None:
        raise web.HTTPNotFound(text="no such article")
    return web.Response(text=article_page(library, found), content_type="text/html")
