"""Handles the stored mentions and DM events, one at a time, oldest first, in every server process.

An event that fails is tried again after a back-off. X being unreachable, a timeout and a
busy or unavailable database are transient: retried for as long as they last and never
counted. Any other error counts, and after ``event_max_failures`` the event is set aside
with its error (logged), so the user's later events go on. Other users' events never wait
for a failing one: it waits for its next try out of line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
from sqlalchemy import exc as sql

from bot.runtime import log_context
from connectors.twitter.conversations import XConversations
from connectors.twitter.identity import event_log_id
from connectors.twitter.inbox import InboxItem, XInbox
from connectors.twitter.sender import Mention, XRejected, XUnavailable
from connectors.twitter.settings import XSettings

logger = logging.getLogger(__name__)

_TRANSIENT = (
    XUnavailable,  # X kept failing (5xx, network, rate limit) through the sender's own retries
    asyncio.TimeoutError,
    TimeoutError,
    ConnectionError,
    aiohttp.ClientError,
    sql.OperationalError,  # database locked, busy or unreachable
    sql.InterfaceError,
    sql.DisconnectionError,
    sql.TimeoutError,  # no pooled connection in time
)


def transient(error: BaseException) -> bool:
    """True for errors that say nothing about the event itself: it will go through later."""
    return isinstance(error, _TRANSIENT) and not isinstance(error, XRejected)


class XWorker:
    """Drains the inbox: ``run_once`` handles what is due now (the loop and tests call it)."""

    def __init__(self, inbox: XInbox, conversations: XConversations, settings: XSettings) -> None:
        self._inbox = inbox
        self._conversations = conversations
        self._settings = settings
        self._claim_seconds = settings.event_timeout_seconds + 30.0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the inbox now: new events were stored."""
        self._wake.set()

    async def run(self) -> None:
        """Handle events until cancelled; between rounds wait for new events or the next retry."""
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                wait = await self._idle_seconds()
            except Exception:  # the database may be away: the claims run out and are taken again
                logger.exception("X inbox worker round failed; trying again")
                wait = self._settings.event_retry_seconds
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def run_once(self) -> int:
        """Handle every event that is due now, one after another; return how many were tried."""
        if not self._conversations.ready():
            return 0  # nothing can be answered before Rasa's model is loaded
        tried = 0
        while (item := await asyncio.to_thread(self._inbox.claim_next, self._claim_seconds)) is not None:
            await self._handle(item)
            tried += 1
        return tried

    async def _handle(self, item: InboxItem) -> None:
        with log_context.bound(event_log_id(item.kind, item.event_id)):
            await self._handle_event(item)

    async def _handle_event(self, item: InboxItem) -> None:
        try:
            await asyncio.wait_for(self._dispatch(item), self._settings.event_timeout_seconds)
        except asyncio.TimeoutError as error:
            await self._failed(item, error, f"not handled within {self._settings.event_timeout_seconds:g} s")
        except Exception as error:
            await self._failed(item, error, f"{type(error).__name__}: {error}")
        else:
            await asyncio.to_thread(self._inbox.done, item)

    async def _dispatch(self, item: InboxItem) -> None:
        if isinstance(item.event, Mention):
            await self._conversations.mention(item.event, redacted=item.redacted)
        else:
            await self._conversations.dm(item.event, redacted=item.redacted)

    async def _failed(self, item: InboxItem, error: Exception, text: str) -> None:
        settings = self._settings
        delay = min(settings.event_retry_seconds * 2**item.attempts, settings.backoff_max_seconds)
        name = f"X {item.kind} {item.event_id}"
        if transient(error):
            logger.warning("%s not handled (%s); trying again in %.1f s", name, text, delay)
            await asyncio.to_thread(self._inbox.retry, item, text, delay, counted=False)
        elif item.failures + 1 >= settings.event_max_failures:
            logger.error("%s failed %d times; set aside in x_inbox", name, item.failures + 1, exc_info=error)
            await asyncio.to_thread(self._inbox.set_aside, item, text)
        else:
            logger.warning("%s failed (%s); trying again in %.1f s", name, text, delay, exc_info=error)
            await asyncio.to_thread(self._inbox.retry, item, text, delay, counted=True)

    async def _idle_seconds(self) -> float:
        """Until the next event can be taken, at most one polling interval (for rows other processes store)."""
        idle = self._settings.poll_seconds
        due = await asyncio.to_thread(self._inbox.next_due) if self._conversations.ready() else None
        return idle if due is None else min(max(due - time.time(), 0.0), idle)
