"""Fetch new mentions and DM events every few seconds, in one process only (a database lease).

Mentions are read from the persisted ``since_id`` through every page, then handled oldest
first, the cursor moving with each one; DM events are read until one already handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.cases.leases import LeaderLease
from connectors.twitter.conversations import XConversations
from connectors.twitter.sender import DM_EVENTS, MENTIONS, DmEvent, Mention, XSender, XUnavailable
from connectors.twitter.settings import XSettings
from connectors.twitter.state import DM, DM_FLOOR, MENTIONS_CURSOR, XState

logger = logging.getLogger(__name__)

X_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here


def snowflake_at(epoch_seconds: float) -> str:
    """The smallest X id created at ``epoch_seconds``: a ``since_id`` for "from then on"."""
    return str(max(int(epoch_seconds * 1000) - X_EPOCH_MS, 0) << 22)


class XPoller:
    """One polling loop; ``poll_once`` is a full cycle (used by the loop and by tests)."""

    def __init__(
        self,
        settings: XSettings,
        sender: XSender,
        state: XState,
        lease: LeaderLease,
        conversations: XConversations,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._state = state
        self._lease = lease
        self._conversations = conversations
        self._sleep = sleep

    async def run(self) -> None:
        """Poll until cancelled; the process that does not hold the lease only waits."""
        try:
            while True:
                try:
                    if await asyncio.to_thread(self._lease.acquire):
                        await self._poll_holding_lease()
                except Exception:  # the database may be briefly away: keep the loop alive
                    logger.exception("X poller cycle failed")
                await self._sleep(self._settings.poll_seconds)
        finally:
            await asyncio.to_thread(self._lease.release)

    async def _poll_holding_lease(self) -> None:
        """One cycle, renewing the lease while it runs (a 429 wait can outlast the lease)."""
        cycle = asyncio.create_task(self.poll_once(), name="x-poll-cycle")
        try:
            while not cycle.done():
                await asyncio.wait({cycle}, timeout=self._lease.seconds / 3)
                if not cycle.done() and not await asyncio.to_thread(self._lease.acquire):
                    logger.warning("X poller lease taken over by another process; stopping this cycle")
                    cycle.cancel()
        finally:
            if not cycle.done():
                cycle.cancel()
            await asyncio.gather(cycle, return_exceptions=True)

    async def poll_once(self) -> None:
        """Handle everything new since the last cycle; one failing feature does not stop the other."""
        if not self._conversations.ready():
            logger.info("X poller waiting for the Rasa model to load")
            return
        for feature, poll in ((MENTIONS, self._poll_mentions), (DM_EVENTS, self._poll_dms)):
            if not self._sender.available(feature):
                continue
            try:
                await poll()
            except XUnavailable as exc:
                logger.warning("X %s poll stopped for this cycle: %s", feature, exc)
            except Exception:
                logger.exception("X %s poll failed", feature)

    async def _poll_mentions(self) -> None:
        since_id = await asyncio.to_thread(self._state.cursor, MENTIONS_CURSOR)
        if since_id is None:
            since_id = snowflake_at(time.time() - 60 * self._settings.first_run_lookback_minutes)
            await asyncio.to_thread(self._state.set_cursor, MENTIONS_CURSOR, since_id)
        mentions: dict[str, Mention] = {}
        token: str | None = None
        while True:  # X serves at most the 800 newest mentions, so this ends
            page = await self._sender.mentions(self._settings.account_id, since_id=since_id, pagination_token=token)
            mentions.update((m.id, m) for m in page.mentions)
            token = page.next_token
            if token is None:
                break
        for mention in sorted(mentions.values(), key=lambda m: int(m.id)):
            await self._conversations.mention(mention, cursor=(MENTIONS_CURSOR, mention.id))

    async def _poll_dms(self) -> None:
        floor = await asyncio.to_thread(self._state.cursor, DM_FLOOR)
        if floor is None:
            floor = snowflake_at(time.time() - 60 * self._settings.first_run_lookback_minutes)
            await asyncio.to_thread(self._state.set_cursor, DM_FLOOR, floor)
        events: dict[str, DmEvent] = {}
        token: str | None = None
        for _ in range(self._settings.max_pages):
            page = await self._sender.dm_events(pagination_token=token)
            fresh = [e for e in page.events if int(e.id) > int(floor)]
            unseen = [e for e in fresh if not await asyncio.to_thread(self._state.processed, DM, e.id)]
            events.update((e.id, e) for e in unseen)
            token = page.next_token
            if token is None or len(unseen) < len(page.events):
                break  # reached events handled before (or older than the first start)
        for event in sorted(events.values(), key=lambda e: int(e.id)):
            await self._conversations.dm(event)
