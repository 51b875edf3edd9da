"""A Sanic app hosting the real Telegram channel against the fake Bot API, for the channel tests.

Rasa's side is the real boundary: the channel is registered by Rasa's own ``register`` and
``app.ctx.agent`` is a real ``Agent`` (domain, in-memory tracker store) whose
``handle_message`` records the ``UserMessage``s it receives and answers through the
message's own output channel, as the trained bot would.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import socket
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage, register
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from sanic import Sanic

from bot.cases.database import make_engine
from bot.cases.store import CaseStore
from bot.runtime.tracker_store import DatabaseUrlTrackerStore
from bot.settings import PROJECT_ROOT
from connectors.gate import ConversationGate
from connectors.telegram.channel import TelegramInput
from connectors.telegram.delivery import cancelled
from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.settings import TelegramSettings
from tests.auxil.fake_telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
SECRET = "s3cret-token"


@functools.lru_cache(maxsize=1)
def test_domain() -> Domain:
    """The bot's real domain: the channel's texts come from it, as in production."""
    return Domain.load(str(PROJECT_ROOT / "bot" / "domain.yml"))


def domain_texts(name: str) -> set[str]:
    """Every variation of a domain response as Telegram receives it (HTML-escaped): any may be picked."""
    return {html.escape(v["text"], quote=False) for v in test_domain().responses[name]}


def reads_first(sent: list[str], texts: set[str]) -> bool:
    """The bot's first message begins with one of ``texts`` (a turn's replies arrive as one message)."""
    return bool(sent) and any(sent[0].startswith(text) for text in texts)


def domain_text(name: str, language: str = "en") -> str:
    """The variation of a domain response a conversation in ``language`` gets (English: the unconditioned one)."""
    for variation in test_domain().responses[name]:
        values = {c.get("value") for c in variation.get("condition") or []}
        if (language == "en" and not values) or language in values:
            return html.escape(variation["text"], quote=False)
    raise KeyError(f"{name} has no {language} variation")


async def bounded(step: Awaitable[Any], what: str, seconds: float = 30.0) -> Any:
    """A harness step never waits forever: a hang fails the test, naming the step."""
    try:
        return await asyncio.wait_for(step, seconds)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what} did not finish within {seconds:.0f} s") from None


class RecordingAgent(Agent):
    """Rasa's agent with the dialogue reduced to recording messages and one canned reply each."""

    def __init__(self, harness: ChannelHarness, database_url: str) -> None:
        domain = test_domain()
        super().__init__(domain=domain, tracker_store=DatabaseUrlTrackerStore(domain, host=database_url))
        self._harness = harness

    async def handle_message(self, message: UserMessage) -> None:  # type: ignore[override]
        await self._harness.on_new_message(message)


class ChannelHarness:
    """Start and stop one Rasa-like web server with the Telegram channel on a free port."""

    def __init__(
        self,
        fake: FakeTelegram,
        database_url: str,
        tmp_path: Path,
        *,
        webhook: bool = True,
        token: str = TOKEN,
        env: dict[str, str] | None = None,
        reply_delay: float = 0.0,
        agent: Agent | None = None,
    ) -> None:
        """``agent``: a loaded Rasa agent (trained bot) instead of the recording one."""
        self.fake = fake
        self.agent = agent
        self.app_agent: Agent = agent or RecordingAgent(self, database_url)
        self.received: list[UserMessage] = []
        self.reply_delay = reply_delay
        values = {
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_ATTACHMENT_DIR": str(tmp_path / "attachments"),
            "TELEGRAM_POLL_TIMEOUT_SECONDS": "1",
            "TELEGRAM_POLLER_RETRY_SECONDS": "0.1",
            "TELEGRAM_PER_CHAT_INTERVAL_SECONDS": "0.01",
            "TELEGRAM_SWEEP_SECONDS": "0.2",
            "TELEGRAM_TYPING_AFTER_SECONDS": "0.0001",
        }
        if webhook:
            values["TELEGRAM_WEBHOOK_URL"] = "https://bot.example.com/webhooks/telegram/webhook"
        values.update(env or {})
        self.settings = TelegramSettings.from_env(values)
        self.engine = make_engine(database_url)
        self.store = CaseStore(self.engine)
        self.channel = TelegramInput(self.settings)
        self.port = 0
        self._server: Any = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def runtime(self) -> TelegramRuntime:
        assert self.channel.runtime is not None
        return self.channel.runtime

    async def on_new_message(self, message: UserMessage) -> None:
        """Rasa's handler, reduced to recording and one canned reply per message."""
        self.received.append(message)
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        reply: dict[str, Any] = {"text": f"You said: {message.text}"}
        if message.text == "/greet":
            reply["buttons"] = [{"title": "Withdrawal", "payload": "/withdrawal_stuck"}]
        await message.output_channel.send_response(message.sender_id, reply)
        await self.save_turn(message)

    async def save_turn(self, message: UserMessage) -> None:
        """Keep the message on the conversation's tracker at the end of the turn, as Rasa does."""
        tracker_store = self.app_agent.tracker_store
        tracker = await tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, message_id=message.message_id))
        await tracker_store.save(tracker)

    async def start(self, wait_ready: bool = True) -> ChannelHarness:
        Sanic.test_mode = True
        app = Sanic(f"tg_{uuid.uuid4().hex[:10]}")
        app.ctx.conversation_gate = ConversationGate(self.store)
        app.ctx.agent = self.app_agent
        register([self.channel], app, route="/webhooks/")  # as `rasa run` registers channels
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        await self._server.startup()
        await self._server.after_start()
        self._http = aiohttp.ClientSession()
        if wait_ready and self.settings.enabled:
            await self.wait_ready()
        return self

    async def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self.channel.runtime is None or not self.channel.runtime.started:
            assert asyncio.get_running_loop().time() < deadline, "Telegram channel did not start"
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await bounded(self._server.before_stop(), "the channel's stop")
            self._server.close()
            await bounded(self._server.wait_closed(), "the web server's close")
            await bounded(self._server.after_stop(), "the after-stop listeners")
        self.engine.dispose()

    async def crash(self) -> None:
        """Die like a killed process: tasks stop mid-await, nothing is marked, no listener runs."""
        runtime = self.runtime
        tasks = [
            *runtime._workers.values(),
            *runtime.delivery._chats.values(),
            runtime._sweeper,
            runtime._picker,
            runtime._poller,
            self.channel._starting,
        ]
        await bounded(asyncio.gather(*(cancelled(t) for t in tasks if t is not None)), "the crash")
        await bounded(runtime.sender.bot.shutdown(), "the Bot API client's close")
        if self._http is not None:
            await self._http.close()
        self._server.close()
        await bounded(self._server.wait_closed(), "the web server's close")
        self.engine.dispose()

    async def __aenter__(self) -> ChannelHarness:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def post(
        self, payload: Any = None, *, secret: str | None = SECRET, raw: bytes | None = None
    ) -> tuple[int, Any]:
        """POST to the webhook as Telegram does; returns (status, JSON body)."""
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = raw if raw is not None else json.dumps(payload).encode()
        async with self._http.post(self.url("/webhooks/telegram/webhook"), data=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, path: str) -> tuple[int, Any]:
        assert self._http is not None
        async with self._http.get(self.url(path)) as resp:
            return resp.status, await resp.json(content_type=None)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def idle(self) -> None:
        """Wait until every update received so far has been processed (a test never waits forever)."""
        runtime = self.runtime
        try:
            await asyncio.wait_for(runtime.idle(), timeout=60)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"not idle after 60 s: workers {runtime._workers}, busy {runtime._busy},"
                f" sending {runtime.delivery._chats}, queues {runtime._queues}"
            ) from None

    def texts(self) -> list[str]:
        return [m.text or "" for m in self.received]
