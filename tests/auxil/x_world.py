"""The X channel as one Rasa server process sees it, for tests: app, runtime, case store, fake X.

Rasa is stood in for at its boundary: a keyword ``parse_message`` and a recorder
``on_new_message`` that replies through the output channel (or a trained agent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.cases.database import make_engine
from bot.cases.store import CaseStore
from bot.settings import PROJECT_ROOT
from connectors.gate import ConversationGate
from connectors.twitter import TwitterInput
from connectors.twitter.settings import XCredentials, XSettings
from tests.auxil.fake_x import FakeX

ACCOUNT = "1000"
DM_LINK = f"https://twitter.com/messages/compose?recipient_id={ACCOUNT}"
TEST_DOMAIN = Path(__file__).parent.parent / "data" / "x_domain.yml"
INTENT_WORDS = {
    "hacked": "suspected_theft",
    "stolen": "suspected_theft",
    "locked": "account_locked",
    "withdrawal": "withdrawal_stuck",
    "deposit": "deposit_missing",
    "fee": "fees_and_limits",
}


@lru_cache(maxsize=1)
def load_domain() -> Domain:
    """The test domain's responses, overridden by the real bot/domain.yml where it has them."""
    responses = yaml.safe_load(TEST_DOMAIN.read_text())["responses"]
    real = PROJECT_ROOT / "bot" / "domain.yml"
    if real.exists():
        responses.update((yaml.safe_load(real.read_text()) or {}).get("responses") or {})
    return Domain.from_dict({"version": "3.1", "responses": responses})


class KeywordAgent:
    """Rasa's agent as the channel sees it (domain + ``parse_message``), without a trained model."""

    def __init__(self) -> None:
        self.domain = load_domain()
        self.tracker_store = None
        self.parsed: list[str] = []

    def is_ready(self) -> bool:
        return True

    async def parse_message(self, text: str) -> dict[str, Any]:
        self.parsed.append(text)
        lowered = text.lower()
        name = next((intent for word, intent in INTENT_WORDS.items() if word in lowered), "nlu_fallback")
        return {"text": text, "intent": {"name": name, "confidence": 0.9}, "entities": []}


class RecorderBot:
    """Stands in for ``agent.handle_message``: records each message, replies through its channel.

    A message whose text is in ``broken`` raises, as Rasa would on a bug, and is not recorded.
    """

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []
        self.broken: set[str] = set()

    async def __call__(self, message: UserMessage) -> None:
        if message.text in self.broken:
            raise RuntimeError(f"the bot broke on {message.text!r}")
        self.messages.append(message)
        if message.text == "/withdrawal_stuck":
            await message.output_channel.send_response(message.sender_id, {"text": "Which coin did you withdraw?"})
            return
        await message.output_channel.send_response(
            message.sender_id,
            {
                "text": "What can I help you with?",
                "buttons": [
                    {"title": "Withdrawal stuck", "payload": "/withdrawal_stuck"},
                    {"title": "Deposit missing", "payload": "/deposit_missing"},
                ],
            },
        )


def x_settings(**overrides: Any) -> XSettings:
    values: dict[str, Any] = {
        "credentials": XCredentials("app-bearer", "ck", "consumer-secret", "at", "ats"),
        "account_id": ACCOUNT,
        "account_handle": "ExampleSupport",
        "page_size": 5,
        "mentions_per_window": 90_000,
        "dm_events_per_window": 90_000,
        "backoff_seconds": 0.01,
    }
    values.update(overrides)
    return XSettings(**values)


class World:
    """One Rasa server process's view: app, channel runtime, case store, fake X."""

    def __init__(
        self,
        fake: FakeX,
        session: aiohttp.ClientSession,
        database_url: str,
        agent: Any = None,
        **settings: Any,
    ) -> None:
        """``agent``: a trained Rasa agent that handles the messages; by default keywords and a recorder."""
        self.fake = fake
        self.app = Sanic(f"x-test-{uuid.uuid4().hex[:8]}")
        self.agent = agent or KeywordAgent()
        self.app.ctx.agent = self.agent
        self.store = CaseStore(make_engine(database_url))
        self.app.ctx.conversation_gate = ConversationGate(self.store)
        self.bot = RecorderBot()
        self.channel = TwitterInput(x_settings(**settings), session_factory=lambda: session)
        self.runtime = self.channel.runtime(self.app, agent.handle_message if agent else self.bot)

    async def poll(self) -> None:
        """One polling cycle, then everything it stored (and any retry now due) handled."""
        await self.runtime.poller.poll_once()
        await self.runtime.worker.run_once()

    def texts(self, name: str, **values: Any) -> set[str]:
        return {v["text"].format(**(values or {"dm_link": DM_LINK})) for v in self.agent.domain.responses[name]}

    async def close(self) -> None:
        await self.runtime.close()


class Served:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server: Any = None
        self.base = ""

    async def __aenter__(self) -> Served:
        app = self.world.app
        app.blueprint(self.world.channel.blueprint(self.world.bot), url_prefix="/webhooks/twitter")
        self.server = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False)
        await self.server.startup()
        await self.server.after_start()
        port = self.server.server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}/webhooks/twitter"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.before_stop()
        await self.server.close()
        await self.server.after_stop()


def signature(body: bytes, secret: str = "consumer-secret") -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
