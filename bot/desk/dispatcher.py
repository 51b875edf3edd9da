"""The outbox dispatcher: every outbox row to every destination, at least once.

One loop per destination, so a destination that is down (and backing off) never slows
the others. A row is marked delivered only after its destination accepted it; if the
process dies in between, the row is sent again after its lease expires (the one case of
a duplicate the design accepts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot.cases.deliveries import Delivery, DeliveryLedger
from bot.desk.destinations import Destination, PacedDestination
from bot.runtime import log_context

logger = logging.getLogger(__name__)

DIGEST_ROWS = 300  # rows a digest may settle: about what one message can name by case id
FLOOD_ROWS = 5  # this many rows due at once is a flood even before the budget spaces messages
# Rows the budget holds back are due again this long before it frees: due exactly then, they
# were written a thread hop later and a newer row could go out in the next message before them.
HELD_DUE_EARLY_SECONDS = 1.0


class Dispatcher:
    """Deliver in small batches, so a new P1 waits behind at most ``batch`` rows.

    A rate-limited destination (Telegram allows about 20 messages a minute in a group)
    then also finishes each batch well within its lease.
    """

    def __init__(
        self, ledger: DeliveryLedger, destinations: Sequence[Destination], *, poll_seconds: float, batch: int = 10
    ) -> None:
        self._ledger = ledger
        self._destinations = list(destinations)
        self._poll = poll_seconds
        self._batch = batch

    @property
    def destination_names(self) -> tuple[str, ...]:
        return tuple(destination.name for destination in self._destinations)

    async def run(self) -> None:
        """Run until cancelled."""
        await asyncio.gather(*(self._serve(d) for d in self._destinations))

    async def _serve(self, destination: Destination) -> None:
        while True:
            try:
                busy = await self.pass_once(destination)
            except Exception:
                logger.exception("dispatcher pass for %s failed; retrying", destination.name)
                busy = False
            if not busy:
                await asyncio.sleep(self._poll)

    async def pass_once(self, destination: Destination) -> bool:
        """Plan and deliver what is due now; True if anything was attempted.

        A destination with a sending budget takes one row at a time, so each send is the
        most urgent one due, and a row the budget holds back waits for it (not an attempt).
        """
        await asyncio.to_thread(self._ledger.plan, [destination.name])
        if isinstance(destination, PacedDestination):
            return await self._paced_pass(destination)
        due = await asyncio.to_thread(self._ledger.claim_due, destination.name, self._batch)
        for delivery in due:
            with log_context.bound(f"outbox-{delivery.outbox_id}"):
                await self._deliver(destination, delivery)
        return bool(due)

    async def _paced_pass(self, destination: PacedDestination) -> bool:
        """One message: the most urgent row due, or in a flood all that waits.

        A flood: the budget spaces messages, or ``FLOOD_ROWS`` rows wait at once.

        Under a flood the budget allows a message every few seconds; one row per message
        would leave each later case waiting minutes behind the earlier cases' update lines
        (the load bench saw a theft alert wait more than 45 s), while a digest of everything
        due names each new case within a message or two of the customer's report.
        """
        due = await asyncio.to_thread(self._ledger.claim_due, destination.name, DIGEST_ROWS)
        if not due:
            return False
        first, budget = due[0], destination.budget
        wait = budget.wait_seconds(first.priority)
        if wait > 0:
            await self._hold_back(due, wait)
            return False
        if len(due) > 1 and (budget.spaced or len(due) >= FLOOD_ROWS):
            with log_context.bound(f"outbox-{first.outbox_id}+{len(due) - 1}"):
                try:
                    settled = await destination.deliver_digest(due)
                except Exception as error:
                    budget.spend()  # the send may have reached Telegram
                    delay = await asyncio.to_thread(self._ledger.failed, first, f"{type(error).__name__}: {error}")
                    await asyncio.to_thread(self._ledger.postpone, due[1:], delay)
                    logger.warning("digest of %d rows to %s failed, retry in %.1f s", len(due), destination.name,
                                   delay, exc_info=error)  # fmt: skip
                    return True
            if settled.sent:
                budget.spend()
            await asyncio.to_thread(self._ledger.delivered, settled.rows)
            ids = {d.id for d in settled.rows}
            due = [d for d in due if d.id not in ids]
            if settled.sent or not due:
                await asyncio.to_thread(self._ledger.postpone, due, 0)
                return True
            first = due[0]  # the digest could name none of them: the most urgent goes alone
            if (wait := budget.wait_seconds(first.priority)) > 0:
                await self._hold_back(due, wait)
                return False
        await asyncio.to_thread(self._ledger.postpone, due[1:], 0)  # calm: each row gets its own message
        budget.spend()
        with log_context.bound(f"outbox-{first.outbox_id}"):
            await self._deliver(destination, first)
        return True

    async def _hold_back(self, due: list[Delivery], wait: float) -> None:
        """Give back rows the budget holds back ``wait`` seconds, due again a little before it frees."""
        await asyncio.to_thread(self._ledger.postpone, due, max(0.0, wait - HELD_DUE_EARLY_SECONDS))

    async def _deliver(self, destination: Destination, delivery: Delivery) -> None:
        """Deliver one row and record the outcome; a failure schedules the retry."""
        try:
            await destination.deliver(delivery)
        except Exception as error:
            delay = await asyncio.to_thread(self._ledger.failed, delivery, f"{type(error).__name__}: {error}")
            logger.warning(
                "delivery of outbox row %s to %s failed (attempt %s), retry in %.1f s",
                delivery.outbox_id,
                destination.name,
                delivery.attempts + 1,
                delay,
                exc_info=error,
            )
        else:
            await asyncio.to_thread(self._ledger.delivered, [delivery])
