"""Delivering recorded replies to Telegram: one task per chat with something to send, off the turn.

No Rasa here. A turn records its replies in the outbox and calls ``wake``; this module
sends them in order, paced by the sender's rate limiter, and decides what a failure means:
refused by Telegram -> ``failed``; a network error, a 429 or a timeout -> sent again later
with back-off (a timed-out send may have arrived, so its retry is flagged a possible
duplicate); still failing after the last attempt -> ``failed`` with its error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.cases.database import in_thread
from bot.runtime import log_context
from bot.runtime.tasks import cancelled
from connectors.telegram.ratelimit import retry_seconds
from connectors.telegram.sender import Button, TelegramSender
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import FAILED, SENT, CallbackPayloads, Outbox, OutboxItem

logger = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_seconds(attempt: int, cap: float = 60.0) -> float:
    """1, 2, 4 ... seconds after the first, second, third failure, at most ``cap``."""
    return float(min(cap, 2 ** max(0, attempt - 1)))


class ReplyDelivery:
    """Sends what the outbox holds; ``wake(chat)`` after recording, ``sweep()`` for rows from elsewhere."""

    def __init__(
        self, settings: TelegramSettings, sender: TelegramSender, outbox: Outbox, callbacks: CallbackPayloads
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._outbox = outbox
        self._callbacks = callbacks
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()  # woken while its task was sending: look once more

    def wake(self, chat_id: int) -> None:
        """Make sure the chat's due rows are being sent; returns at once."""
        task = self._chats.get(chat_id)
        if task is not None and not task.done():
            self._again.add(chat_id)
            return
        self._chats[chat_id] = asyncio.create_task(self._drain(chat_id), name=f"telegram-send-{chat_id}")

    async def sweep(self) -> None:
        """Wake every chat with a row due: retries whose delay is over, rows the desk added, orphans."""
        for chat_id in await self._db(self._outbox.due_chats):
            self.wake(chat_id)

    @property
    def busy(self) -> bool:
        """A chat is being sent to right now."""
        return any(not task.done() for task in self._chats.values())

    async def idle(self) -> None:
        """Wait until no chat is being sent to (rows waiting out a delay are not waited for)."""
        while sending := [task for task in self._chats.values() if not task.done()]:
            await asyncio.gather(*sending, return_exceptions=True)

    async def stop(self) -> None:
        """Let sends in flight finish briefly; a cut one is resent after the restart."""
        tasks = list(self._chats.values())
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=5.0)
            for task in unfinished:
                await cancelled(task)

    async def _drain(self, chat_id: int) -> None:
        """Send the chat's rows in order; stop at a row that must wait, so none overtakes it."""
        try:
            while True:
                self._again.discard(chat_id)
                for item in await self._db(self._outbox.due, chat_id):
                    if item.blocked or not await self._db(self._outbox.claim, item.id):
                        break
                    if not await self._send(item):
                        break
                else:
                    if chat_id in self._again:
                        continue
                break
        except Exception:
            logger.exception("sending to chat %s failed; the sweep tries again", chat_id)
        finally:
            if self._chats.get(chat_id) is asyncio.current_task():
                del self._chats[chat_id]

    async def _send(self, item: OutboxItem) -> bool:
        """Send one claimed row, its log lines under its update's id (``tg-<update_id>``; none for an agent's)."""
        with log_context.bound(None if item.update_id is None else f"tg-{item.update_id}"):
            return await self._send_item(item)

    async def _send_item(self, item: OutboxItem) -> bool:
        """False when the row waits for a retry (later rows of the chat wait too)."""
        try:
            message_id = await asyncio.wait_for(self._send_body(item.chat_id, item.body), self._send_limit)
        except (BadRequest, Forbidden) as exc:
            logger.error("Telegram refused send %s to chat %s: %s", item.id, item.chat_id, exc)
            await self._db(self._outbox.mark, item.id, FAILED, error=str(exc))
        except (RetryAfter, TimedOut, asyncio.TimeoutError, NetworkError) as exc:
            return await self._retry(item, exc)
        except Exception as exc:  # a body this code cannot send (bad file, bad data): never retried
            logger.exception("send %s to chat %s failed", item.id, item.chat_id)
            await self._db(self._outbox.mark, item.id, FAILED, error=repr(exc))
        else:
            await self._db(self._outbox.mark, item.id, SENT, message_id=message_id)
        return True

    async def _retry(self, item: OutboxItem, exc: BaseException) -> bool:
        maybe_delivered = isinstance(exc, TimedOut | asyncio.TimeoutError)
        error = f"{type(exc).__name__}: {exc}"
        if item.attempts + 1 >= self._settings.max_send_attempts:
            logger.error(
                "send %s to chat %s failed after %d attempts: %s", item.id, item.chat_id, item.attempts + 1, error
            )
            await self._db(self._outbox.mark, item.id, FAILED, error=error)
            return True
        delay = retry_seconds(exc) if isinstance(exc, RetryAfter) else backoff_seconds(item.attempts + 1)
        logger.warning("send %s to chat %s not confirmed (%s); retrying in %.0fs", item.id, item.chat_id, error, delay)
        await self._db(self._outbox.retry_later, item.id, error, delay, maybe_delivered=maybe_delivered)
        return False

    @property
    def _send_limit(self) -> float:
        """A send's own timeouts plus time for the rate limiter's queue: never awaited forever."""
        return self._settings.request_timeout_seconds * 3 + 30.0

    async def _send_body(self, chat_id: int, body: dict[str, Any]) -> int:
        kind = body.get("kind")
        if kind == "text":
            buttons = [await self._button(b) for b in body.get("buttons", [])]
            message = await self._sender.send_part(chat_id, body["text"], buttons, reply_to=body.get("reply_to"))
        elif kind == "photo":
            message = await self._sender.send_photo(chat_id, body["url"], caption=body.get("caption"))
        elif kind == "document" and "path" in body:  # stored by the agent desk; nothing outside the directory
            root = self._settings.attachment_dir.resolve()
            path = (root / body["path"]).resolve()
            if not path.is_relative_to(root):
                raise ValueError(f"{body['path']!r} is outside the attachment directory")
            data = await asyncio.to_thread(path.read_bytes)
            message = await self._sender.send_document(
                chat_id, data, caption=body.get("caption"), filename=body.get("filename")
            )
        elif kind == "document":
            message = await self._sender.send_document(chat_id, body["url"], caption=body.get("caption"))
        else:
            raise BadRequest(f"unknown outbox body kind {kind!r}")
        return message.message_id

    async def _button(self, button: dict[str, Any]) -> Button:
        if button.get("url"):
            return Button(button["title"], url=button["url"])
        data = await self._db(self._callbacks.data_for, str(button.get("payload") or button["title"]))
        return Button(button["title"], callback_data=data)

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await in_thread(self._settings.database_timeout_seconds, function, *args, **kwargs)
