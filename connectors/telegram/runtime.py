"""Receiving and delivering for the customer bot: inbox, per-chat order, outbox, polling.

No Rasa here: what an update *means* is the handler's job (``handler.py``); this module
makes sure each update is stored (secrets redacted first) before it is acknowledged,
processed once and in order per chat, that replies go through the outbox, and that only
one process polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import socket
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from bot.cases.leases import LeaderLease
from connectors.telegram.ratelimit import retry_seconds
from connectors.telegram.redaction import redact_update
from connectors.telegram.sender import Button, TelegramSender
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import (
    CLAIMED,
    DONE,
    FAILED,
    PENDING,
    SENT,
    UNCERTAIN,
    WAIT,
    CallbackPayloads,
    Inbox,
    Outbox,
    OutboxItem,
)

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
POLLER_LEASE = "telegram_poller"

UpdateHandler = Callable[[int, Update], Awaitable[None]]


def chat_key(payload: dict[str, Any]) -> str:
    """The chat an update belongs to (its processing order), found without parsing the update."""
    for value in payload.values():
        if not isinstance(value, dict):
            continue
        inner = value.get("message")
        for holder in (value, inner if isinstance(inner, dict) else {}):
            chat = holder.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return str(chat["id"])
    return f"update:{payload.get('update_id')}"


class TelegramRuntime:
    """One bot's running connector: call ``start`` after the web server is up, ``stop`` before it ends."""

    def __init__(
        self,
        settings: TelegramSettings,
        sender: TelegramSender,
        inbox: Inbox,
        outbox: Outbox,
        callbacks: CallbackPayloads,
        lease: LeaderLease,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.inbox = inbox
        self.outbox = outbox
        self.callbacks = callbacks
        self._lease = lease
        self._lease_retry = settings.poller_retry_seconds
        self._handler: UpdateHandler | None = None
        self._queues: dict[str, deque[int]] = {}
        self._payloads: dict[int, dict[str, Any]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._send_locks: dict[int, asyncio.Lock] = {}
        self._poller: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._ready = False  # new updates are scheduled directly (else resumed from the inbox)
        self._started = asyncio.Event()  # and unfinished work from before has been picked up
        # _raw_updates calls getUpdates by name on purpose (see there); the library warns about that.
        warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

    @classmethod
    def create(cls, settings: TelegramSettings, engine: Engine) -> TelegramRuntime:
        """Wire the runtime to the shared database; the lease holder names this process."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{id(settings):x}"
        ttl = settings.poll_timeout_seconds + 30.0
        return cls(
            settings,
            TelegramSender.from_settings(settings),
            Inbox(engine),
            Outbox(engine),
            CallbackPayloads(engine),
            LeaderLease(engine, POLLER_LEASE, ttl, holder=holder),
        )

    @property
    def webhook_secret(self) -> str:
        """The configured secret, or one derived from the token (same on every instance)."""
        if self.settings.webhook_secret:
            return self.settings.webhook_secret
        token = (self.settings.bot_token or "").encode()
        return hmac.new(token, b"telegram-webhook-secret", "sha256").hexdigest()

    @property
    def started(self) -> bool:
        return self._started.is_set()

    async def start(self, handler: UpdateHandler) -> None:
        """Learn the bot (one ``getMe``), register the webhook or start polling, resume unfinished work."""
        self._handler = handler
        await self.sender.start()
        if self.settings.webhook_url:
            await self._set_webhook()
        elif self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="telegram-poller")
        await self._resume()  # updates stored while this process was down or starting
        self._ready = True  # from here on the webhook and the poller schedule directly
        await self._resume()  # and whatever arrived between the first look and now
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="telegram-sweeper")
        self._started.set()

    async def stop(self) -> None:
        """Stop polling, let running updates finish (briefly), release the lease, close the client."""
        self._ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            await asyncio.to_thread(self._lease.release)
        workers = list(self._workers.values())
        if workers:
            _, unfinished = await asyncio.wait(workers, timeout=5.0)
            for task in unfinished:
                task.cancel()  # the update stays pending in the inbox and is resumed next start
        await self.sender.stop()

    def secret_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.webhook_secret.encode())

    async def receive(self, payload: dict[str, Any]) -> bool:
        """Store an update durably, secrets redacted first, then schedule it; False for a duplicate ``update_id``."""
        update_id = int(payload["update_id"])
        key = chat_key(payload)
        payload = await asyncio.to_thread(redact_update, payload)
        if not await asyncio.to_thread(self.inbox.store, update_id, key, payload):
            logger.info("update %s already received", update_id)
            return False
        if self._ready:
            self._enqueue(update_id, key, payload)
        return True

    async def idle(self) -> None:
        """Wait until start-up is done and every scheduled update has been processed."""
        await self._started.wait()
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    def _enqueue(self, update_id: int, key: str, payload: dict[str, Any]) -> None:
        if update_id in self._payloads:
            return
        self._payloads[update_id] = payload
        self._queues.setdefault(key, deque()).append(update_id)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"telegram-chat-{key}")

    async def _work(self, key: str) -> None:
        """Process one chat's updates one after another, in ``update_id`` order."""
        queue = self._queues[key]
        try:
            while queue:
                update_id = queue.popleft()
                payload = self._payloads.pop(update_id)
                await self._process(update_id, payload)
        finally:
            del self._workers[key]
            if not queue:
                del self._queues[key]

    async def _process(self, update_id: int, payload: dict[str, Any]) -> None:
        if self._handler is None or not await self._claim_in_turn(update_id):
            return
        status = DONE
        try:
            if await asyncio.to_thread(self.outbox.has_replies, update_id):
                # Rasa handled it before a crash; its replies are in the outbox, sent by _resume.
                logger.info("update %s was answered before a restart; not asking the bot again", update_id)
            else:
                await self._handler(update_id, Update.de_json(payload, self.sender.bot))
        except Exception:
            logger.exception("processing Telegram update %s failed", update_id)
            status = FAILED  # not retried forever: the error is logged with the update id
        await asyncio.to_thread(self.inbox.finish, update_id, status)

    async def _claim_in_turn(self, update_id: int) -> bool:
        """Claim the update once its chat's earlier updates are done (maybe by another instance).

        Gives up after a claim period; the update stays pending and is resumed later.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.claim_seconds
        while True:
            outcome = await asyncio.to_thread(self.inbox.claim, update_id, self.settings.claim_seconds)
            if outcome != WAIT or loop.time() > deadline:
                return outcome == CLAIMED
            await asyncio.sleep(0.1)

    # sending ---------------------------------------------------------------------------
    async def deliver(self, chat_id: int, update_id: int | None, bodies: list[dict[str, Any]]) -> None:
        """Record replies in the outbox, then send everything due for the chat, in order."""
        if bodies:
            await asyncio.to_thread(self.outbox.add, chat_id, update_id, bodies)
            await self.flush(chat_id)

    async def flush(self, chat_id: int) -> None:
        lock = self._send_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            for item in await asyncio.to_thread(self.outbox.due, chat_id):
                claimed = await asyncio.to_thread(self.outbox.claim, item.id, self.settings.claim_seconds)
                if claimed and not await self._send(item):
                    break  # keep the chat's order: later replies wait for this one

    async def _resume(self, orphans_only: bool = False) -> None:
        """Send replies that are due, then schedule updates nobody is processing, oldest first.

        With ``orphans_only`` only updates older than a claim period are taken: newer ones
        belong to the process that received them.
        """
        for chat_id in dict.fromkeys(i.chat_id for i in await asyncio.to_thread(self.outbox.due)):
            await self.flush(chat_id)
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.settings.claim_seconds) if orphans_only else None
        for pending in await asyncio.to_thread(self.inbox.pending, cutoff):
            self._enqueue(pending.update_id, pending.chat_key, pending.payload)

    async def _sweep(self) -> None:
        """Every few seconds, resume whatever is due.

        That is replies left by a 429 or a network error, rows another process (the agent
        desk) added, and updates whose worker died (their claim expired).
        """
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self._resume(orphans_only=True)
            except Exception:
                logger.exception("resuming Telegram work failed; trying again later")

    async def _send(self, item: OutboxItem) -> bool:
        """Send one row; False only when it must be tried again later."""
        try:
            message_id = await self._send_body(item.chat_id, item.body)
        except TimedOut:
            logger.warning("send %s to chat %s timed out; not resending (it may have arrived)", item.id, item.chat_id)
            await asyncio.to_thread(self.outbox.mark, item.id, UNCERTAIN, error="timed out")
        except (BadRequest, Forbidden) as exc:
            logger.error("Telegram refused send %s to chat %s: %s", item.id, item.chat_id, exc)
            await asyncio.to_thread(self.outbox.mark, item.id, FAILED, error=str(exc))
        except (RetryAfter, NetworkError) as exc:
            logger.warning("send %s to chat %s not accepted yet (%s); it stays due", item.id, item.chat_id, exc)
            await asyncio.to_thread(self.outbox.mark, item.id, PENDING, error=str(exc))
            return False
        except Exception as exc:  # a body this code cannot send (bad file, bad data): never retried
            logger.exception("send %s to chat %s failed", item.id, item.chat_id)
            await asyncio.to_thread(self.outbox.mark, item.id, FAILED, error=repr(exc))
        else:
            await asyncio.to_thread(self.outbox.mark, item.id, SENT, message_id=message_id)
        return True

    async def _send_body(self, chat_id: int, body: dict[str, Any]) -> int:
        kind = body.get("kind")
        if kind == "text":
            buttons = [await self._button(b) for b in body.get("buttons", [])]
            message = await self.sender.send_part(chat_id, body["text"], buttons, reply_to=body.get("reply_to"))
        elif kind == "photo":
            message = await self.sender.send_photo(chat_id, body["url"], caption=body.get("caption"))
        elif kind == "document":
            message = await self.sender.send_document(chat_id, body["url"], caption=body.get("caption"))
        else:
            raise BadRequest(f"unknown outbox body kind {kind!r}")
        return message.message_id

    async def _button(self, button: dict[str, Any]) -> Button:
        if button.get("url"):
            return Button(button["title"], url=button["url"])
        data = await asyncio.to_thread(self.callbacks.data_for, str(button.get("payload") or button["title"]))
        return Button(button["title"], callback_data=data)

    # webhook and polling -----------------------------------------------------------------
    async def _set_webhook(self) -> None:
        """Register the webhook; a refusal is logged and the old registration keeps working."""
        try:
            await self.sender.bot.set_webhook(
                str(self.settings.webhook_url), secret_token=self.webhook_secret, allowed_updates=list(ALLOWED_UPDATES)
            )
        except TelegramError:
            logger.exception("setWebhook failed; Telegram keeps its previous webhook registration")

    async def _raw_updates(self, offset: int | None) -> list[Any]:
        """``getUpdates`` as Telegram sent it, parsed later one update at a time.

        The library's own ``get_updates`` parses the whole batch: one update it cannot read
        fails every call (polling stalls on it for good) and logs the batch, unredacted,
        at CRITICAL. Raw, each update is stored redacted first, exactly as a webhook's.
        """
        result = await self.sender.bot.do_api_request(
            "getUpdates",
            api_kwargs={
                "offset": offset,
                "timeout": self.settings.poll_timeout_seconds,
                "allowed_updates": list(ALLOWED_UPDATES),
            },
            read_timeout=self.settings.poll_timeout_seconds + self.settings.request_timeout_seconds,
        )
        return result if isinstance(result, list) else []

    async def _poll(self) -> None:
        """Long-poll ``getUpdates`` while this process holds the poller lease; never gives up."""
        offset: int | None = None
        leader = False
        while True:
            try:
                if not await asyncio.to_thread(self._lease.acquire):
                    if leader:
                        logger.warning("lost the Telegram poller lease to another process")
                    leader = False
                    await asyncio.sleep(self._lease_retry)
                    continue
                if not leader:
                    await self.sender.bot.delete_webhook()  # getUpdates is refused while a webhook is set
                    logger.info("this process now polls Telegram")
                    leader = True
                for payload in await self._raw_updates(offset):
                    if not isinstance(payload, dict) or type(payload.get("update_id")) is not int:
                        logger.warning("getUpdates returned an entry without an update_id; skipped")
                        continue
                    await self.receive(payload)
                    offset = payload["update_id"] + 1  # confirmed to Telegram only once it is stored
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
            except Exception:
                logger.exception("polling Telegram failed; retrying")
                await asyncio.sleep(self._lease_retry)
