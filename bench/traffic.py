"""Customers on the wire: the REST protocol, and Telegram updates POSTed to Rasa's webhook.

`RestClient` speaks the documented REST protocol (README "REST": the first message opens a
conversation, later ones send its id and bearer secret). `TelegramLine` plays Telegram: it
POSTs updates to the Rasa server's webhook with the secret header, and sees every reply the
customer bot sends through the fake Bot API, per chat, with its arrival time. Which reply
answers which turn is not on the wire; `attribute` assigns them in order, given how many
replies each turn gets (the connector keeps a chat's replies in order).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp

from bench.fake_bot_api import FakeBotApi, text_update
from bench.live_stack import WEBHOOK_SECRET

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=300)


@dataclass
class Turn:
    """One customer message and what came back, in time.perf_counter() seconds."""

    chat: int
    sent: float
    expected: int | None = None  # replies the turn should get (Telegram)
    first: float | None = None
    last: float | None = None
    received: int = 0
    error: str | None = None


@dataclass
class Conversation:
    conversation_id: str | None = None
    secret: str | None = None


class RestClient:
    """POST /webhooks/rest/webhook as `make chat` does; to several Rasa servers in turn, as a load balancer would."""

    def __init__(self, session: aiohttp.ClientSession, *rasa_urls: str) -> None:
        self._session = session
        self._urls = itertools.cycle([f"{url}/webhooks/rest/webhook" for url in rasa_urls])

    async def say(self, conversation: Conversation, text: str) -> list[dict]:
        """Send ``text``; the first message of ``conversation`` opens it (the server names it)."""
        body: dict[str, str] = {"message": text}
        headers = {}
        if conversation.conversation_id is not None:
            body["sender"] = conversation.conversation_id
            headers["Authorization"] = f"Bearer {conversation.secret}"
        async with self._session.post(next(self._urls), json=body, headers=headers, timeout=HTTP_TIMEOUT) as response:
            response.raise_for_status()
            if conversation.conversation_id is None:
                conversation.conversation_id = response.headers["X-Conversation-Id"]
                conversation.secret = response.headers["X-Conversation-Secret"]
            return list(await response.json())

    async def turn(self, conversation: Conversation, text: str, turn: Turn) -> Turn:
        """Fill ``turn`` (sent at ``turn.sent``): the response carries every reply, so first and last are one moment."""
        try:
            replies = await self.say(conversation, text)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            turn.error = type(error).__name__
            return turn
        turn.first = turn.last = time.perf_counter()
        turn.received = len(replies)
        return turn


@dataclass
class TelegramLine:
    """Telegram's side of the customer bot: updates in through the webhook, replies out at the fake API.

    ``webhook_urls``: each server's webhook, taken in turn as the deployment's proxy spreads
    Telegram's deliveries (with one URL, another server gets work only through the inbox's sweep).
    """

    fake: FakeBotApi
    session: aiohttp.ClientSession
    webhook_urls: tuple[str, ...]
    replies: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    texts: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    _arrived: dict[int, asyncio.Event] = field(default_factory=dict)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(int(time.time()) * 1000))
    _message_ids: dict[int, itertools.count] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fake.listeners.append(self._on_message)
        self._webhooks = itertools.cycle(self.webhook_urls)

    def _on_message(self, chat: int, text: str, at: float) -> None:
        """Count replies as REST does: Rasa's REST channel makes each paragraph its own reply,
        the Telegram connector sends a turn's replies as one message."""
        if chat <= 0:  # groups: the agents' alerts
            return
        for paragraph in text.strip().split("\n\n"):
            self.replies[chat].append(at)
            self.texts[chat].append(paragraph)
        event = self._arrived.get(chat)
        if event is not None:
            event.set()

    def update(self, chat: int, text: str) -> dict:
        """A new update (fresh ``update_id``) with the customer's message."""
        message_id = next(self._message_ids.setdefault(chat, itertools.count(1)))
        return text_update(next(self._update_ids), chat, text, message_id)

    async def post(self, update: dict, timeout: float = 30.0) -> int | str:
        """POST one update as Telegram does; the status, or the error's name when there was no answer."""
        try:
            async with self.session.post(
                next(self._webhooks), json=update, headers={SECRET_HEADER: WEBHOOK_SECRET},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return type(error).__name__

    async def wait_replies(
        self, chat: int, count: int, until: float, quiet: float | None = None, since: float = 0.0
    ) -> bool:
        """Wait until ``chat`` has ``count`` replies (time.perf_counter() deadline ``until``).

        With ``quiet``, also give up once a reply arrived after ``since`` and then nothing came
        for ``quiet`` seconds.
        """
        event = self._arrived.setdefault(chat, asyncio.Event())
        while len(self.replies[chat]) < count:
            now = time.perf_counter()
            if now >= until:
                return False
            timeout = until - now
            if quiet is not None and self.replies[chat] and self.replies[chat][-1] > since:
                silent = now - self.replies[chat][-1]
                if silent >= quiet:
                    return False
                timeout = min(timeout, quiet - silent)
            event.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        return True


def attribute(turns: list[Turn], arrivals: list[float]) -> int:
    """Give a chat's replies to its turns in order, by each turn's expected count; returns replies left over.

    Stops at the first turn whose count is unknown (the rest stay unattributed).
    """
    position = 0
    for turn in turns:
        if turn.expected is None:
            return 0
        mine = arrivals[position:position + turn.expected]
        position += turn.expected
        turn.received = len(mine)
        turn.first = mine[0] if mine else None
        turn.last = mine[-1] if len(mine) == turn.expected and mine else None
    return max(0, len(arrivals) - position)
