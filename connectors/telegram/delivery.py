"""Delivering recorded replies to Telegram: one task per chat with something to send, off the turn.

No Rasa here. A turn records its replies in the outbox as it makes them and calls ``wake``
once it is over; this module sends them in order, a turn's consecutive texts as one message
(the customer reads one answer instead of bubbles a second apart, and Telegram's budget of
about 30 messages a second overall goes further), paced by the sender's rate limiter, and
decides what a failure means:
refused by Telegram -> ``failed``; a network error, a 429 or a timeout -> sent again later
with back-off (a timed-out send may have arrived, so its retry is flagged a possible
duplicate); still failing after the last attempt -> ``failed`` with its error.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.cases.database import in_thread, through_blips
from bot.runtime import log_context
from bot.runtime.tasks import cancelled
from connectors.telegram.ratelimit import retry_seconds
from connectors.telegram.sender import MAX_TEXT, Button, TelegramSender
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import FAILED, SENT, CallbackPayloads, Outbox, OutboxItem

logger = logging.getLogger(__name__)
T = TypeVar("T")
PARAGRAPH = "\n\n"  # between the replies of one turn sent as one message


def backoff_seconds(attempt: int, cap: float = 60.0) -> float:
    """1, 2, 4 ... seconds after the first, second, third failure, at most ``cap``."""
    return float(min(cap, 2 ** max(0, attempt - 1)))


def joins(previous: dict[str, Any], body: dict[str, Any], length: int) -> bool:
    """``body`` can follow ``previous`` in one message of ``length`` characters so far."""
    return (
        previous.get("kind") == "text" == body.get("kind")
        and not previous.get("buttons")
        and "reply_to" not in body
        and length + len(PARAGRAPH) + len(body["text"]) <= MAX_TEXT
    )


def first_message(bodies: Sequence[dict[str, Any]]) -> int:
    """How many of the leading ``bodies`` go out as one message (at least one)."""
    count, length = 1, len(bodies[0].get("text") or "")
    while count < len(bodies) and joins(bodies[count - 1], bodies[count], length):
        length += len(PARAGRAPH) + len(bodies[count]["text"])
        count += 1
    return count


def joined(bodies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One message of texts ``first_message`` put together: the first's reply, the last's buttons."""
    if len(bodies) == 1:
        return bodies[0]
    body: dict[str, Any] = {"kind": "text", "text": PARAGRAPH.join(b["text"] for b in bodies)}
    if "reply_to" in bodies[0]:
        body["reply_to"] = bodies[0]["reply_to"]
    if bodies[-1].get("buttons"):
        body["buttons"] = bodies[-1]["buttons"]
    return body


class ReplyDelivery:
    """Sends what the outbox holds; ``wake(chat)`` after recording, ``sweep()`` for rows from elsewhere."""

    def __init__(
        self,
        settings: TelegramSettings,
        sender: TelegramSender,
        outbox: Outbox,
        callbacks: CallbackPayloads,
        in_turn: Callable[[int], bool] = lambda update_id: False,
    ) -> None:
        """``in_turn(update_id)``: that update's turn is still running here, so its replies wait for the rest."""
        self._settings = settings
        self._in_turn = in_turn
        self._sender = sender
        self._outbox = outbox
        self._callbacks = callbacks
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()  # woken while its task was sending: look once more
        self._alone: set[int] = set()  # rows Telegram refused as part of one message: sent one by one

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
                more = True
                while more:
                    batch, more = await self._db(self._take_next, chat_id)
                    if not batch:
                        break
                    with log_context.bound(None if batch[0].update_id is None else f"tg-{batch[0].update_id}"):
                        if not await self._send_batch(batch):
                            break
                if chat_id not in self._again:
                    break
        except Exception:
            logger.exception("sending to chat %s failed; the sweep tries again", chat_id)
        finally:
            if self._chats.get(chat_id) is asyncio.current_task():
                del self._chats[chat_id]

    def _sendable(self, item: OutboxItem) -> bool:
        """Free, and not a reply of a turn still running here (it goes out with the rest of its turn)."""
        return not item.blocked and not (item.update_id is not None and self._in_turn(item.update_id))

    def _take_next(self, chat_id: int) -> tuple[list[OutboxItem], bool]:
        """The chat's next message, claimed, and whether more rows follow it.

        The message is the leading sendable rows, a turn's as one; none when the first row must
        wait or someone else took it. Read and claim in one trip off the event loop (the
        customer is waiting for this send).
        """
        items = self._outbox.due(chat_id)
        ready: list[OutboxItem] = []
        for item in items:
            if not self._sendable(item) or (ready and item.update_id != ready[0].update_id):
                break
            ready.append(item)
        if not ready:
            return [], False
        batch = ready[:1]
        if ready[0].update_id is not None and ready[0].id not in self._alone:
            joinable = list(itertools.takewhile(lambda item: item.id not in self._alone, ready))
            batch = joinable[: first_message([item.body for item in joinable])]
        if not self._outbox.claim([item.id for item in batch]):
            return [], False
        return batch, len(items) > len(batch)

    async def _send_batch(self, batch: list[OutboxItem]) -> bool:
        """Send claimed rows as one message; False when they wait for a retry (later rows of the chat wait too)."""
        ids, chat_id = [item.id for item in batch], batch[0].chat_id
        try:
            message_id = await asyncio.wait_for(
                self._send_body(chat_id, joined([item.body for item in batch])), self._send_limit
            )
        except (BadRequest, Forbidden) as exc:
            if len(batch) > 1:
                return await self._one_by_one(batch, exc)
            logger.error("Telegram refused send %s to chat %s: %s", ids, chat_id, exc)
            await self._db(self._outbox.mark, ids, FAILED, error=str(exc))
        except (RetryAfter, TimedOut, asyncio.TimeoutError, NetworkError) as exc:
            return await self._retry(batch, exc)
        except Exception as exc:  # a body this code cannot send (bad file, bad data): never retried
            if type(exc) is TelegramError:  # PTB's "Invalid server response" (a proxy's page): it may have arrived
                return await self._retry(batch, exc, maybe_delivered=True)
            if len(batch) > 1:
                return await self._one_by_one(batch, exc)
            logger.exception("send %s to chat %s failed", ids, chat_id)
            await self._db(self._outbox.mark, ids, FAILED, error=repr(exc))
        else:
            await self._record_sent(ids, message_id)
        self._alone.difference_update(ids)
        return True

    async def _record_sent(self, ids: list[int], message_id: int) -> None:
        """The message is out: record it, through a database blip, while the claim holds.

        Left ``sending``, the rows would be sent again once the claim ran out: a duplicate the
        customer sees, for a write that only had to wait.
        """
        await through_blips(
            lambda: self._db(self._outbox.mark, ids, SENT, message_id=message_id),
            self._settings.claim_hold_seconds, f"recording sent replies {ids}",
        )

    async def _one_by_one(self, batch: list[OutboxItem], exc: BaseException) -> bool:
        """One reply spoilt the message (a bad button, say): the others must still arrive, so each goes alone."""
        ids = [item.id for item in batch]
        logger.warning("Telegram refused replies %s as one message (%s); sending them one by one", ids, exc)
        self._alone.update(ids)
        await self._db(self._outbox.retry_later, ids, f"{type(exc).__name__}: {exc}", 0.0)
        return False

    async def _retry(self, batch: list[OutboxItem], exc: BaseException, *, maybe_delivered: bool = False) -> bool:
        ids, chat_id, attempts = [item.id for item in batch], batch[0].chat_id, max(item.attempts for item in batch)
        maybe_delivered = maybe_delivered or isinstance(exc, TimedOut | asyncio.TimeoutError)
        error = f"{type(exc).__name__}: {exc}"
        if attempts + 1 >= self._settings.max_send_attempts:
            logger.error("send %s to chat %s failed after %d attempts: %s", ids, chat_id, attempts + 1, error)
            await self._db(self._outbox.mark, ids, FAILED, error=error)
            return True
        delay = retry_seconds(exc) if isinstance(exc, RetryAfter) else backoff_seconds(attempts + 1)
        logger.warning("send %s to chat %s not confirmed (%s); retrying in %.0fs", ids, chat_id, error, delay)
        await self._db(self._outbox.retry_later, ids, error, delay, maybe_delivered=maybe_delivered)
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
