"""A help desk's webhook endpoint on 127.0.0.1: verifies our signature, can be taken down."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.desk.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.down = False
        self.accepted: list[dict[str, Any]] = []
        self.refused_down = 0
        self.rejected_signatures = 0
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    async def __aenter__(self) -> WebhookReceiver:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.down:
            self.refused_down += 1
            return web.Response(status=503)
        if not verify(self.secret, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body):
            self.rejected_signatures += 1
            return web.Response(status=401)
        self.accepted.append(json.loads(body))
        return web.Response(status=204)
