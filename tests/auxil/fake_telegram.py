"""A fake Telegram Bot API server speaking the real wire format, for PTB's ``base_url``.

Requests arrive the way PTB sends them (form fields with JSON-encoded values, multipart for
uploads) and answers are the Bot API's ``{"ok": true, "result": ...}`` envelopes. Every call
is recorded; tests can queue updates for ``getUpdates``, inject 429s for a chat or a method,
refuse a chat's sends (a customer who blocked the bot), stall a method past the client's
timeout, and serve files for ``getFile``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "Support",
    "username": "ExampleSupportBot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "reply_parameters",
    "entities",
    "caption_entities",
    "link_preview_options",
}


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def paid_broadcast(self) -> bool:
        """Sent past the bot's free budget, for Telegram Stars (``allow_paid_broadcast``)."""
        return str(self.params.get("allow_paid_broadcast", "")).lower() == "true"


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    retry_after: int
    times: int


@dataclass
class _Refusal:
    method: str
    chat_id: int | None
    code: int
    description: str
    paid_only: bool


class FakeTelegram:
    """The Bot API on 127.0.0.1 (a free port); ``base_url`` and ``base_file_url`` are for PTB."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.webhook: dict[str, Any] = {}
        self._updates: list[tuple[str | None, dict[str, Any]]] = []
        self._arrived = asyncio.Event()
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._failures: list[_Failure] = []
        self._refusals: list[_Refusal] = []
        self._stalls: dict[str, list[float]] = {}
        self._garbled: list[str] = []
        self._files: dict[str, tuple[str, bytes]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle -----------------------------------------------------------------------
    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # test controls -------------------------------------------------------------------
    def queue_update(self, update: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """Make ``update`` available to ``getUpdates`` (an ``update_id`` is assigned if missing).

        With ``token``, only that bot receives it (two bots polling one fake server).
        """
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append((token, update))
        self._arrived.set()
        return update

    def rate_limit(
        self, *, retry_after: int, chat_id: int | None = None, method: str = "sendMessage", times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` (for ``chat_id``, if given) answer 429."""
        self._failures.append(_Failure(method, chat_id, retry_after, times))

    def refuse(
        self,
        chat_id: int | None = None,
        *,
        method: str = "sendMessage",
        code: int = 403,
        description: str = "Forbidden: bot was blocked by the user",
        paid_only: bool = False,
    ) -> None:
        """Every later call of ``method`` (for ``chat_id``, if given; only paid broadcasts with ``paid_only``)
        is refused with ``code``, as Telegram does."""
        self._refusals.append(_Refusal(method, chat_id, code, description, paid_only))

    def garble(self, method: str) -> None:
        """The next call of ``method`` is carried out, then answered 200 with a page that is not JSON (a proxy's)."""
        self._garbled.append(method)

    def stall(self, method: str, seconds: float) -> None:
        """The next call of ``method`` is recorded, then answered only after ``seconds``."""
        self._stalls.setdefault(method, []).append(seconds)

    def add_file(self, content: bytes, file_path: str, file_id: str | None = None) -> str:
        """Serve ``content`` through ``getFile``/download; returns its ``file_id``."""
        file_id = file_id or f"file-{len(self._files) + 1}"
        self._files[file_id] = (file_path, content)
        return file_id

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        return [c.params["text"] for c in self.calls_to("sendMessage", chat_id)]

    def sent_paragraphs(self, chat_id: int | None = None) -> list[str]:
        """What the bot said, a paragraph at a time: a turn's several replies arrive as one message."""
        return [part for text in self.sent_texts(chat_id) for part in text.split("\n\n")]

    async def wait_for(
        self, method: str, count: int = 1, chat_id: int | None = None, timeout: float = 5.0
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` were made (successful or not)."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method, chat_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} called {len(self.calls_to(method, chat_id))} times, wanted {count}")
            await asyncio.sleep(0.01)
        return self.calls_to(method, chat_id)

    # wire ----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _params(request)
        call = Call(token, method, params)
        self.calls.append(call)
        for failure in self._failures:
            if failure.method == method and failure.times > 0 and failure.chat_id in (None, call.chat_id):
                failure.times -= 1
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {failure.retry_after}",
                        "parameters": {"retry_after": failure.retry_after},
                    },
                    status=429,
                )
        for refusal in self._refusals:
            if refusal.method == method and refusal.chat_id in (None, call.chat_id) and (
                call.paid_broadcast or not refusal.paid_only
            ):
                return _error(refusal.code, refusal.description)
        if self._stalls.get(method):
            await asyncio.sleep(self._stalls[method].pop(0))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = await (handler(params, token) if method == "getUpdates" else handler(params))
        if isinstance(result, web.Response):
            return result
        if method in self._garbled:
            self._garbled.remove(method)
            return web.Response(text="<html>upstream glitch</html>", content_type="text/html")
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        wanted = request.match_info["path"]
        for path, content in self._files.values():
            if path == wanted:
                self.calls.append(Call(request.match_info["token"], "download", {"file_path": path}))
                return web.Response(body=content)
        return web.Response(status=404, text="Not Found")

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_getUpdates(self, params: dict[str, Any], token: str) -> Any:
        if self.webhook.get("url"):
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        mine = lambda: [u for t, u in self._updates if t in (None, token)]  # noqa: E731
        offset = int(params.get("offset") or 0)
        if offset:  # confirmed ones are gone
            self._updates = [(t, u) for t, u in self._updates if t not in (None, token) or u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not mine() and time.monotonic() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
        limit = int(params.get("limit") or 100)
        return mine()[:limit]

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        message = self._message(params, text=params["text"])
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = {"file_id": "sent-photo", "file_unique_id": "sp", "width": 1, "height": 1}
        return self._message(params, photo=[photo], caption=params.get("caption"))

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        document = {"file_id": "sent-doc", "file_unique_id": "sd", "file_name": params.get("document_name", "file")}
        return self._message(params, document=document, caption=params.get("caption"))

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._message(params, message_id=int(params["message_id"]), text="(edited)")

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path, content = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(content), "file_path": path}

    def _message(self, params: dict[str, Any], message_id: int | None = None, **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        if chat_id < 0:
            chat["title"] = "Group"
        message = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
        }
        message.update({k: v for k, v in content.items() if v is not None})
        return message


async def _params(request: web.Request) -> dict[str, Any]:
    """Decode a Bot API request: JSON body, or form/multipart fields with JSON-encoded values."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    if request.method == "GET":
        fields: dict[str, Any] = dict(request.query)
    else:
        form = await request.post()
        fields = {}
        for name, value in form.items():
            if hasattr(value, "file"):
                fields[f"{name}_name"] = value.filename
                fields[name] = value.file.read()
            else:
                fields[name] = value
    for name in _JSON_FIELDS & fields.keys():
        fields[name] = json.loads(fields[name])
    return fields


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


def private_message(chat_id: int, text: str | None = None, *, message_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A customer's message in a private chat, as the Bot API sends it inside an update."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Ada", "language_code": "en"}
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Ada"},
        "from": user,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    message.update(extra)
    return message


def group_message(chat_id: int, user_id: int, text: str, *, message_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A message in a supergroup from ``user_id``; mentions of ``@ExampleSupportBot`` get their entity."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "supergroup", "title": "Traders"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Bob"},
        "text": text,
    }
    mention = "@" + BOT_USER["username"]
    if mention in text:
        message["entities"] = [{"type": "mention", "offset": text.index(mention), "length": len(mention)}]
    message.update(extra)
    return message


def agent_group_message(
    chat_id: int, user: dict[str, Any], text: str, *, message_id: int, reply_to: int | None = None
) -> dict[str, Any]:
    """An update in which ``user`` writes ``text`` in the agents' group, maybe replying to message ``reply_to``."""
    extra: dict[str, Any] = {"from": user}
    if text.startswith("/"):
        extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if reply_to is not None:
        extra["reply_to_message"] = {
            "message_id": reply_to,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Agents"},
            "text": "alert",
        }
    return {"message": group_message(chat_id, user["id"], text, message_id=message_id, **extra)}
