"""Live feed of case events to every open desk page (WebSocket), in every desk process.

Each desk process follows the outbox itself and pushes what it reads to the pages it
serves, so with several desk processes behind a load balancer every page still sees every
event. Pages reload what an event names, and load the whole queue when they connect, so
an event that happened while a process was down costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import WSCloseCode, web

from bot.cases.agents import DeskSessions
from bot.cases.events import OutboxReader
from bot.cases.store import CaseStore
from bot.desk.destinations import case_json

logger = logging.getLogger(__name__)

# On PostgreSQL a transaction that took an outbox id can commit after a later one; the
# follower looks back this many ids each time, so such a row is still pushed (once).
LOOK_BACK_IDS = 100
SESSION_ENDED = 4401  # WebSocket close code (application range): the page's session is over
SESSION_CHECK_SECONDS = 30.0


class LiveHub:
    """The connected pages, each under the session that opened it; a broadcast reaches each one or drops it when gone.

    A page lives no longer than its session: signing out closes the session's pages in this
    process at once, and ``watch_sessions`` closes, within a check interval, those whose
    session ended otherwise (idle, too old, or signed out through another desk process).
    """

    def __init__(self) -> None:
        self._sockets: dict[web.WebSocketResponse, str] = {}  # page -> its session key
        self._close_codes: dict[web.WebSocketResponse, int] = {}  # pages the desk is closing, and why

    def add(self, ws: web.WebSocketResponse, session: str) -> None:
        self._sockets[ws] = session

    async def remove(self, ws: web.WebSocketResponse) -> None:
        """The page's handler is done: close it, with the desk's reason when the desk ended it.

        When another task closes a socket, aiohttp wakes the handler, and the handler's own
        close goes out first; so the reason has to reach the handler, here.
        """
        self._sockets.pop(ws, None)
        await ws.close(code=self._close_codes.pop(ws, WSCloseCode.OK))

    @property
    def size(self) -> int:
        return len(self._sockets)

    async def broadcast(self, message: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            if ws.closed:
                self._sockets.pop(ws, None)
                continue
            try:
                await ws.send_json(message)
            except ConnectionError:
                logger.info("desk page went away during a broadcast")
                self._sockets.pop(ws, None)

    async def close_session(self, session: str) -> None:
        """Close the pages of a session that ended; the page then goes to the sign-in page."""
        for ws in [ws for ws, key in self._sockets.items() if key == session]:
            await self._close(ws, SESSION_ENDED)

    async def close_ended(self, sessions: DeskSessions) -> None:
        """Close the pages whose session is no longer signed in."""
        open_sessions = set(self._sockets.values())
        if not open_sessions:
            return
        for session in open_sessions - await asyncio.to_thread(sessions.active, open_sessions):
            await self.close_session(session)

    async def watch_sessions(self, sessions: DeskSessions, *, every_seconds: float = SESSION_CHECK_SECONDS) -> None:
        """Run until cancelled: ``close_ended`` every so often."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.close_ended(sessions)
            except Exception:
                logger.exception("checking the sessions of open desk pages failed; retrying")

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await self._close(ws, WSCloseCode.GOING_AWAY)

    async def _close(self, ws: web.WebSocketResponse, code: int) -> None:
        self._sockets.pop(ws, None)
        self._close_codes[ws] = code
        await ws.close(code=code)


class LiveFeed:
    """Follow the outbox from the moment the desk starts and broadcast each event once.

    Each pass reads only the ids of the look-back window; whole rows are read just for ids
    not pushed yet, so an idle desk costs one small index query a poll.
    """

    def __init__(self, hub: LiveHub, reader: OutboxReader, store: CaseStore, *, poll_seconds: float) -> None:
        self._hub = hub
        self._reader = reader
        self._store = store
        self._poll = poll_seconds
        self._pushed: set[int] = set()  # ids inside the look-back window that were pushed (or predate the desk)

    async def run(self) -> None:
        """Run until cancelled."""
        newest = await self.start()
        while True:
            try:
                newest = await self.pass_once(newest)
            except Exception:
                logger.exception("live feed pass failed; retrying")
            await asyncio.sleep(self._poll)

    async def start(self) -> int:
        """Take what the outbox holds now as already seen; return its newest id."""
        newest = await asyncio.to_thread(self._reader.newest_id)
        window = await asyncio.to_thread(self._reader.ids_after, _window_start(newest))
        self._pushed = {outbox_id for outbox_id in window if outbox_id <= newest}
        return newest

    async def pass_once(self, newest: int) -> int:
        """Push events not pushed yet; return the newest id seen."""
        window = await asyncio.to_thread(self._reader.ids_after, _window_start(newest))
        fresh = [outbox_id for outbox_id in window if outbox_id not in self._pushed]
        if not fresh:
            return newest
        for event in await asyncio.to_thread(self._reader.events, fresh):
            self._pushed.add(event.id)
            newest = max(newest, event.id)
            if self._hub.size:
                case = await asyncio.to_thread(self._store.get, event.case_id)
                message = {
                    "type": "case_event",
                    "event": event.event,
                    "payload": event.payload,
                    "case": case_json(case),
                }
                await self._hub.broadcast(message)
        self._pushed = {outbox_id for outbox_id in self._pushed if outbox_id > _window_start(newest)}
        return newest


def _window_start(newest: int) -> int:
    return max(newest - LOOK_BACK_IDS, 0)
