"""Live feed of case events to every open desk page (WebSocket)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)


class LiveHub:
    """The set of connected pages; a broadcast reaches each one or drops it when gone."""

    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()

    def add(self, ws: web.WebSocketResponse) -> None:
        self._sockets.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._sockets.discard(ws)

    @property
    def size(self) -> int:
        return len(self._sockets)

    async def broadcast(self, message: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            if ws.closed:
                self._sockets.discard(ws)
                continue
            try:
                await ws.send_json(message)
            except ConnectionError:
                logger.info("desk page went away during a broadcast")
                self._sockets.discard(ws)

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"desk shutting down")
        self._sockets.clear()
