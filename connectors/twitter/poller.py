"""Fetch new mentions and DM events into the inbox every few seconds, in one process only (a lease).

Mentions are read from the persisted ``since_id`` through every page, and the cursor moves
once they are stored; DM events are read until one already stored. Handling them is the
worker's job (``worker.py``), so a failing event never holds up fetching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.cases.leases import LeaderLease, run_while_leader
from connectors.twitter.inbox import XInbox
from connectors.twitter.sender import DM_EVENTS, MENTIONS, DmEvent, Mention, XSender, XUnavailable
from connectors.twitter.settings import XSettings
from connectors.twitter.state import DM, DM_FLOOR, MENTIONS_CURSOR, XState

logger = logging.getLogger(__name__)

X_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here


def snowflake_at(epoch_seconds: float) -> str:
    """The smallest X id created at ``epoch_seconds``: a ``since_id`` for "from then on"."""
    return str(max(int(epoch_seconds * 1000) - X_EPOCH_MS, 0) << 22)


class XPoller:
    """One polling loop; ``poll_once`` is a full cycle (used by the loop and by tests).

    ``ready`` says whether events can be answered yet (Rasa's model is loaded); ``stored``
    is called after a cycle, to have the worker look at the inbox.
    """

    def __init__(
        self,
        settings: XSettings,
        sender: XSender,
        state: XState,
        inbox: XInbox,
        lease: LeaderLease,
        *,
        ready: Callable[[], bool],
        stored: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._state = state
        self._inbox = inbox
        self._lease = lease
        self._ready = ready
        self._stored = stored

    async def run(self) -> None:
        """Poll until cancelled; a process that does not hold the lease only waits to take over."""
        await run_while_leader(
            self._lease,
            self.poll_once,
            name="X poller",
            retry_seconds=self._settings.poll_seconds,
            pause_seconds=self._settings.poll_seconds,
            max_backoff_seconds=self._settings.backoff_max_seconds,
        )

    async def poll_once(self) -> None:
        """Store everything new since the last cycle; one failing feature does not stop the other."""
        if not self._ready():
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
        self._stored()

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
        if mentions:
            await asyncio.to_thread(self._inbox.store, list(mentions.values()))
            await asyncio.to_thread(self._state.set_cursor, MENTIONS_CURSOR, max(mentions, key=int))

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
            known = await asyncio.to_thread(self._inbox.known, DM, [e.id for e in fresh])
            unseen = [e for e in fresh if e.id not in known]
            events.update((e.id, e) for e in unseen)
            token = page.next_token
            if token is None or len(unseen) < len(page.events):
                break  # reached events stored before (or older than the first start)
        await asyncio.to_thread(self._inbox.store, list(events.values()))
