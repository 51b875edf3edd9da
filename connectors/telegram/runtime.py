"""Receiving for the customer bot: inbox, per-chat order, turns, watchdog, webhook and polling.

No Rasa here: what an update *means* is the handler's job (``handler.py``), and sending is
``delivery.py``'s. This module makes sure each update is stored (secrets redacted first)
before it is acknowledged, that its turn runs once and in order per chat, that a turn cut
by a crash or a hang is run again without repeating the replies it already recorded, and
that nothing is awaited without a bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

import aiohttp
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError
from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bot.cases.database import DATABASE_AWAY, DATABASE_UNAVAILABLE, in_thread, through_blips
from bot.cases.instances import Instance
from bot.cases.leases import LeaderLease, run_while_leader
from bot.runtime import log_context
from bot.runtime.tasks import cancelled
from connectors.telegram.delivery import ReplyDelivery, backoff_seconds
from connectors.telegram.ratelimit import retry_seconds
from connectors.telegram.raw_updates import (
    attachment_kind,
    chat_of,
    lost_attachment,
    parse_update,
    private_chat_of,
    whole_characters,
)
from connectors.telegram.redaction import redact_update
from connectors.telegram.sender import TelegramSender
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import (
    CLAIMED,
    DONE,
    FAILED,
    REPLIES_WAIT_FOR_TURN_SECONDS,
    ButtonPresses,
    CallbackPayloads,
    Claim,
    Inbox,
    InboxItem,
    Outbox,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
POLLER_LEASE = "telegram_poller"
TRANSIENT: tuple[type[Exception], ...] = (
    *DATABASE_UNAVAILABLE,
    InterfaceError,
    NetworkError,
    aiohttp.ClientError,
    OSError,
)


class UpdateHandler(Protocol):
    """What an update means (``handler.py``); ``replay`` when an earlier try of its turn may have run.

    ``lost_attachment``: the kind of attachment (``photo``...) that came with a message the
    library could not parse, read without it from its raw JSON.

    ``transient_errors``: what the handler's own dependencies raise while briefly unavailable;
    ``turn_errors``: what a turn that itself failed raises (tried again, set aside at the limit).
    """

    transient_errors: tuple[type[Exception], ...]
    turn_errors: tuple[type[Exception], ...]

    async def __call__(self, update_id: int, update: Update, *, replay: bool, lost_attachment: str | None) -> None: ...

    async def cannot_handle(self, update_id: int, chat_id: int, *, unreadable: bool) -> None: ...


@dataclass(frozen=True)
class _Done:
    """A turn marked done, with its chat's next free update looked up in the same trip."""

    following: InboxItem | None


@dataclass
class _Busy:
    update_id: int
    since: float
    task: asyncio.Task[None]
    finishing: bool = False  # the turn is over and being marked done: a stop there is not the turn's failure


class TurnReplies:
    """The replies of one turn: their next place, and what a cut earlier try already recorded."""

    def __init__(self, recorded: list[str]) -> None:
        self._next = len(recorded)
        self._recorded = Counter(recorded)
        self.chats: set[int] = set()  # where the turn recorded replies: sent once it is over
        self.started = time.monotonic()

    def new(self, bodies: list[dict[str, Any]], keys: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """The bodies not recorded by the earlier try (each recorded reply matches once)."""
        kept = []
        for body, key in zip(bodies, keys, strict=True):
            if self._recorded[key] > 0:
                self._recorded[key] -= 1
            else:
                kept.append((body, key))
        return [body for body, _ in kept], [key for _, key in kept]

    def take(self, count: int) -> int:
        first = self._next
        self._next += count
        return first


def body_key(body: dict[str, Any]) -> str:
    """A reply without a response name is known by its content."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def chat_key(payload: dict[str, Any]) -> str:
    """The chat an update belongs to (its processing order), found without parsing the update."""
    chat = chat_of(payload)
    return str(chat["id"]) if chat is not None else f"update:{payload.get('update_id')}"


class TelegramRuntime:
    """One bot's running connector: call ``start`` after the web server is up, ``stop`` before it ends."""

    def __init__(
        self,
        settings: TelegramSettings,
        sender: TelegramSender,
        inbox: Inbox,
        outbox: Outbox,
        callbacks: CallbackPayloads,
        presses: ButtonPresses,
        lease: LeaderLease,
        instance: Instance,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.inbox = inbox
        self.outbox = outbox
        self.callbacks = callbacks
        self._presses = presses
        self.instance = instance
        self.delivery = ReplyDelivery(settings, sender, outbox, callbacks, in_turn=self._in_turn)
        self._lease = lease
        self._handler: UpdateHandler | None = None
        self._queues: dict[str, deque[int]] = {}
        self._payloads: dict[int, dict[str, Any]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._busy: dict[str, _Busy] = {}
        self._requeues: set[asyncio.Task[None]] = set()  # chats the watchdog is handing back
        self._turn_replies: dict[int, TurnReplies] = {}  # per update being processed
        self._turns = asyncio.Semaphore(settings.max_concurrent_turns)
        self._poller: asyncio.Task[None] | None = None
        self._offset: int | None = None  # the next update polling asks for
        self._sweeper: asyncio.Task[None] | None = None
        self._picker: asyncio.Task[None] | None = None
        self._ready = False  # new updates are scheduled directly (else resumed from the inbox)
        self._started = asyncio.Event()  # and unfinished work from before has been picked up
        self.created_at = time.monotonic()  # readiness waits a while for the channel to connect
        # _raw_updates calls getUpdates by name on purpose (see there); the library warns about that.
        warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

    @classmethod
    def create(cls, settings: TelegramSettings, engine: Engine) -> TelegramRuntime:
        """Wire the runtime to the shared database under this process's instance id."""
        instance = Instance(engine, settings.instance_id, settings.instance_stale_seconds)
        hold = settings.claim_hold_seconds
        return cls(
            settings,
            TelegramSender.from_settings(settings),
            Inbox(engine, instance, hold_seconds=hold),
            Outbox(engine, instance, hold_seconds=hold),
            CallbackPayloads(engine),
            ButtonPresses(engine),
            LeaderLease(engine, POLLER_LEASE, settings.poll_timeout_seconds + 30.0, holder=instance.id),
            instance,
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

    @property
    def poller_lease(self) -> LeaderLease | None:
        """The lease polling runs under, once polling runs (None in webhook mode): some process must hold it.

        Before the channel has connected there is no poller here to hold it, so readiness
        does not wait on it (it notes the channel is still connecting instead).
        """
        return None if self.settings.webhook_url or self._poller is None else self._lease

    async def start(self, handler: UpdateHandler) -> None:
        """Register this instance, take back its earlier claims, connect, and resume unfinished work."""
        self._handler = handler
        await self._db(self.instance.register)
        updates, replies = await self._db(self.inbox.release_own_claims), await self._db(self.outbox.release_own_claims)
        if updates or replies:
            logger.info("took back %d updates and %d sends this instance held before its restart", updates, replies)
        await self.sender.start()
        if self.settings.webhook_url:
            await self._set_webhook()
        elif self._poller is None:
            poll = run_while_leader(
                self._lease,
                self._poll_once,
                name="Telegram poller",
                retry_seconds=self.settings.poller_retry_seconds,
                on_leader=self._delete_webhook,
            )
            self._poller = asyncio.create_task(poll, name="telegram-poller")
        await self._resume()  # updates stored while this process was down or starting
        self._ready = True  # from here on the webhook and the poller schedule directly
        await self._resume()  # and whatever arrived between the first look and now
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="telegram-sweeper")
        if self._picker is None:
            self._picker = asyncio.create_task(self._pick_up(), name="telegram-pickup")
        self._started.set()

    async def stop(self) -> None:
        """Stop polling, let running turns and sends finish (briefly), release the lease, close the client."""
        self._ready = False
        for task in (self._picker, self._sweeper, self._poller):
            if task is not None:
                await cancelled(task)
        workers = list(self._workers.values())
        if workers:
            _, unfinished = await asyncio.wait(workers, timeout=5.0)
            for task in unfinished:
                await cancelled(task)  # the update stays pending in the inbox and is resumed next start
        await self.delivery.stop()
        await self.sender.stop()

    def secret_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.webhook_secret.encode())

    async def receive(self, payload: dict[str, Any]) -> bool:
        """Store an update durably, secrets redacted first, then schedule it; False for a duplicate ``update_id``."""
        update_id = int(payload["update_id"])
        key = chat_key(payload)
        payload = await self._db(self._store_redacted, update_id, key, payload)
        if not payload:
            logger.info("update %s already received", update_id)
            return False
        if self._ready:
            self._enqueue(update_id, key, payload)
        return True

    def _store_redacted(self, update_id: int, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Redact, then store: one trip off the event loop; the stored payload, or {} for a duplicate."""
        payload = redact_update(whole_characters(payload))
        return payload if self.inbox.store(update_id, key, payload) else {}

    async def idle(self) -> None:
        """Wait until start-up is done, every scheduled update has had its turn and its replies are sent."""
        await self._started.wait()
        while (working := [t for t in self._workers.values() if not t.done()]) or self.delivery.busy:
            await asyncio.gather(*working, return_exceptions=True)
            await self.delivery.idle()

    async def deliver(
        self, chat_id: int, update_id: int | None, bodies: list[dict[str, Any]], key: str | None = None
    ) -> None:
        """Record replies in the outbox and have them sent; returns once they are recorded.

        ``key`` names the reply (a response name); replies of an update being processed are
        matched against what an earlier, cut try of its turn recorded, so a replay adds only
        the replies that try had not, even when it takes a different path. They are sent
        when the turn is over, together.
        """
        if not bodies:
            return
        keys = [f"{key or body_key(body)}#{index}" for index, body in enumerate(bodies)]
        turn = self._turn_replies.get(update_id) if update_id is not None else None
        first_seq = None
        if turn is not None:
            bodies, keys = turn.new(bodies, keys)
            if not bodies:
                return
            first_seq = turn.take(len(bodies))
        await self._db(self.outbox.add, chat_id, update_id, bodies, first_seq=first_seq, keys=keys)
        if turn is not None:
            turn.chats.add(chat_id)
        else:
            self.delivery.wake(chat_id)

    def _in_turn(self, update_id: int) -> bool:
        """The update's replies wait for the rest of its turn, but a slow turn's only so long."""
        turn = self._turn_replies.get(update_id)
        return turn is not None and time.monotonic() - turn.started < REPLIES_WAIT_FOR_TURN_SECONDS

    def _enqueue(self, update_id: int, key: str, payload: dict[str, Any]) -> None:
        if update_id in self._payloads:
            return
        self._payloads[update_id] = payload
        self._queues.setdefault(key, deque()).append(update_id)
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = asyncio.create_task(self._work(key), name=f"telegram-chat-{key}")

    async def _work(self, key: str) -> None:
        """Process one chat's updates one after another, in ``update_id`` order."""
        queue = self._queues[key]
        try:
            while queue:
                update_id = queue[0]
                done = await self._process(key, update_id, self._payloads[update_id])
                queue.popleft()
                self._payloads.pop(update_id, None)
                if not queue:
                    await self._follow(key, update_id, done)
        except Exception:
            logger.exception("the worker of chat %s stopped; the sweep resumes its updates", key)
        finally:
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
                if self._queues.get(key) is queue:
                    del self._queues[key]
                for left in queue:  # stopped by an error: forget them here, so the sweep can schedule them again
                    self._payloads.pop(left, None)

    async def _process(self, key: str, update_id: int, payload: dict[str, Any]) -> _Done | None:
        """Claim and run one update's turn; its log lines carry ``tg-<update_id>``, as Rasa's message id does."""
        with log_context.bound(f"tg-{update_id}"):
            return await self._process_update(key, update_id, payload)

    async def _process_update(self, key: str, update_id: int, payload: dict[str, Any]) -> _Done | None:
        """Run the update's turn once this process has a free turn slot and the update is still free.

        The claim comes after the slot: an update waiting here for a slot stays unclaimed, so
        an instance with free slots (whose sweep saw it) runs it instead. Several Rasa
        processes on one machine or several thus share one inbox's work, whichever received it.
        """
        if self._handler is None:
            return None
        async with self._turns:
            claim = await self._claim_in_turn(update_id)
            if claim is None:
                return None
            current = asyncio.current_task()
            assert current is not None
            self._busy[key] = _Busy(update_id, asyncio.get_running_loop().time(), current)
            recorded = await self._db(self.outbox.recorded_keys, update_id) if claim.attempt > 1 else []
            self._turn_replies[update_id] = TurnReplies(recorded)
            try:
                return await self._turn(key, update_id, payload, claim)
            finally:
                self._busy.pop(key, None)
                self._send_turns_replies(update_id)

    def _send_turns_replies(self, update_id: int) -> None:
        """The turn has said all it will: its replies go out (once; a later call finds nothing)."""
        replies = self._turn_replies.pop(update_id, None)
        for chat_id in replies.chats if replies is not None else ():
            self.delivery.wake(chat_id)

    async def _turn(self, key: str, update_id: int, payload: dict[str, Any], claim: Claim) -> _Done | None:
        """Run the update's turn; done, retried later, or failed with the customer told.

        Returns what ``_finish`` looked up when the turn is done; None when nothing was.

        Transient errors (a store or the network on the way) are retried without limit; a turn
        that itself fails (times out, loses an action call) is set aside after
        ``max_turn_attempts`` such tries, however many transient ones came between.
        """
        assert self._handler is not None
        update = parse_update(payload, self.sender.bot) if isinstance(payload, dict) else None
        if update is None:
            error = f"unreadable update ({attachment_kind(payload) or 'no text'})"
            await self._give_up(update_id, payload, error, unreadable=True, attempt=claim.attempt)
            return None
        replay = claim.attempt > 1
        try:
            lost = lost_attachment(payload, update)
            turn = self._handler(update_id, update, replay=replay, lost_attachment=lost)
            await asyncio.wait_for(turn, self.settings.turn_timeout_seconds)
        except asyncio.TimeoutError:
            error = f"turn took longer than {self.settings.turn_timeout_seconds:.0f}s"
            await self._turn_failed(update_id, payload, error, claim)
        except RetryAfter as exc:
            await self._db(self.inbox.retry_later, update_id, f"RetryAfter: {exc}", retry_seconds(exc))
        except BadRequest as exc:  # Telegram refused the request (PTB makes it a NetworkError): a retry changes nothing
            logger.warning("Telegram refused a request of update %s's turn: %s", update_id, exc)
            await self._give_up(update_id, payload, f"BadRequest: {exc}", attempt=claim.attempt)
        except (*TRANSIENT, *self._handler.transient_errors) as exc:
            await self._retry(update_id, f"{type(exc).__name__}: {exc}", claim.attempt)
        except self._handler.turn_errors as exc:
            await self._turn_failed(update_id, payload, f"{type(exc).__name__}: {exc}", claim)
        except Exception as exc:
            logger.exception("processing Telegram update %s failed", update_id)
            await self._give_up(update_id, payload, f"{type(exc).__name__}: {exc}", attempt=claim.attempt)
        else:
            self._send_turns_replies(update_id)  # before the bookkeeping: the customer waits for them
            last = len(self._queues.get(key) or ()) <= 1  # the chat's worker then asks for its next update
            look_ahead = last and not key.startswith("update:")
            busy = self._busy.get(key)
            if busy is not None and busy.task is asyncio.current_task():
                busy.finishing = True
            return await through_blips(  # not marked done, the turn would hold its chat until its claim ran out
                lambda: self._db(self._finish, key, update_id, look_ahead=look_ahead),
                self.settings.claim_hold_seconds, f"marking update {update_id} done",
            )
        return None

    def _finish(self, key: str, update_id: int, *, look_ahead: bool) -> _Done | None:
        """Mark the turn done and, when asked, look up the chat's next free update: one trip off the loop."""
        self.inbox.finish(update_id, DONE)
        return _Done(self.inbox.next_of_chat(key)) if look_ahead else None

    async def _retry(self, update_id: int, error: str, attempt: int, *, turn_failed: bool = False) -> None:
        """The turn runs again after a back-off; a transient failure is never marked failed for it."""
        delay = backoff_seconds(attempt)
        logger.warning("Telegram update %s: %s; its turn runs again in %.0fs", update_id, error, delay)
        await self._db(self.inbox.retry_later, update_id, error, delay, turn_failed=turn_failed)

    async def _turn_failed(self, update_id: int, payload: dict[str, Any], error: str, claim: Claim) -> None:
        """The turn itself failed: run it again after a back-off, or set it aside after the last try."""
        if claim.failures + 1 >= self.settings.max_turn_attempts:
            await self._give_up(update_id, payload, error, attempt=claim.attempt)
        else:
            await self._retry(update_id, error, claim.attempt, turn_failed=True)

    async def _give_up(
        self, update_id: int, payload: dict[str, Any], error: str, *, attempt: int, unreadable: bool = False
    ) -> None:
        """Keep the row with its error, and tell the customer to send the message again (as text if unreadable).

        When the notice cannot be recorded for a moment (the database), the update waits and
        its turn runs again instead: it is never set aside with the customer not told.
        """
        logger.error("Telegram update %s cannot be handled: %s", update_id, error)
        chat_id = private_chat_of(payload)
        if chat_id is not None and self._handler is not None:
            try:
                await self._handler.cannot_handle(update_id, chat_id, unreadable=unreadable)
            except (*TRANSIENT, *self._handler.transient_errors) as exc:
                await self._retry(update_id, f"{error}; telling the customer failed: {type(exc).__name__}", attempt)
                return
            except Exception:
                logger.exception("Telegram update %s: the customer could not be told", update_id)
        await self._db(self.inbox.finish, update_id, FAILED, error)

    async def _claim_in_turn(self, update_id: int) -> Claim | None:
        """Claim the update if its chat's earlier updates are done (maybe by another instance).

        Returns the claim, or ``None`` when it is taken or must wait for an earlier
        update: then it stays pending, and whoever finishes that earlier update (or the
        sweep) schedules it, so no turn slot is held while waiting.
        """
        claim = await self._db(self.inbox.claim, update_id)
        return claim if claim.outcome == CLAIMED else None

    async def _follow(self, key: str, previous: int, done: _Done | None) -> None:
        """Schedule the chat's next update that another instance stored and left for this turn to end.

        ``done``: the next update, when the turn's finish looked it up already.
        """
        if key.startswith("update:"):
            return  # an update without a chat has no successor
        following = done.following if done is not None else await self._db(self.inbox.next_of_chat, key)
        if following is not None and following.update_id != previous:
            self._enqueue(following.update_id, following.chat_key, following.payload)

    async def _resume(self, orphans_only: bool = False) -> None:
        """Send replies that are due, then schedule updates nobody is processing, oldest first.

        With ``orphans_only`` only updates older than a sweep are taken: newer ones belong to
        the process that received them.
        """
        await self.delivery.sweep()
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.settings.sweep_seconds) if orphans_only else None
        for pending in await self._db(self.inbox.pending, cutoff, next_only=orphans_only):
            self._enqueue(pending.update_id, pending.chat_key, pending.payload)

    async def _pick_up(self) -> None:
        """Take updates nobody runs yet while this server has free turn slots, as many as are free.

        Another server that received them and is busy leaves them unclaimed (it claims only
        when a slot frees), so the servers share the work within ``pickup_seconds``, sooner
        than the sweep. One cheap query, and only when there is room.
        """
        database_away = False
        while True:
            await asyncio.sleep(self.settings.pickup_seconds)
            free = self.settings.max_concurrent_turns - sum(not w.done() for w in self._workers.values())
            if free <= 0 or not self._ready:
                continue
            cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.settings.pickup_seconds)
            try:
                waiting = await self._db(self.inbox.pending, cutoff, next_only=True, limit=free)
            except DATABASE_AWAY as error:  # tried every pick-up: said once
                if not database_away:
                    logger.warning("looking for Telegram updates to take failed (%s); trying again quietly", error)
                database_away = True
                continue
            except Exception:
                logger.exception("looking for Telegram updates to take failed; trying again later")
                continue
            if database_away:
                logger.info("looking for Telegram updates to take works again")
                database_away = False
            for item in waiting:
                self._enqueue(item.update_id, item.chat_key, item.payload)

    async def _sweep(self) -> None:
        """Every sweep: heartbeat, watchdog, and resume whatever is due.

        That is replies waiting out a retry delay, rows another process (the agent desk)
        added, updates retried after an error, and updates whose instance died.
        """
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self._db(self.instance.beat)
                self._watch()
                await self._resume(orphans_only=True)
            except Exception:
                logger.exception("resuming Telegram work failed; trying again later")

    def _watch(self) -> None:
        """Stop a chat's worker that is stuck past every bound, and let the chat go on."""
        now = asyncio.get_running_loop().time()
        limit = self.settings.turn_timeout_seconds + self.settings.database_timeout_seconds * 4 + 5.0
        for key, busy in list(self._busy.items()):
            if now - busy.since > limit:
                logger.error(
                    "chat %s stuck on update %s for %.0fs; restarting its worker", key, busy.update_id, now - busy.since
                )
                busy.task.cancel()
                self._busy.pop(key, None)
                self._workers.pop(key, None)
                self._requeues.add(asyncio.create_task(self._requeue_stuck(key, busy.update_id, busy.finishing)))

    async def _requeue_stuck(self, key: str, update_id: int, finishing: bool) -> None:
        """Give the stuck update back and run the chat's queue again from it (its next try is a replay).

        A turn stopped while being marked done (the database away for longer than the bound)
        had completed: its replay is not counted as a failed try, which after a few would tell
        a customer already answered that something went wrong.
        """
        error = "marking the turn done failed past the watchdog's bound" if finishing else "worker stuck"
        try:
            await self._db(self.inbox.retry_later, update_id, f"{error}; stopped by the watchdog", 0.0,
                           turn_failed=not finishing)
        except Exception:  # the database is away: forget the chat's queue here, so the sweep schedules it again
            logger.exception("handing update %s back failed; it runs again once its claim runs out", update_id)
            if key not in self._workers:  # else a worker started meanwhile runs the queue, and forgets it if it stops
                for left in self._queues.pop(key, ()):
                    self._payloads.pop(left, None)
            return
        finally:
            self._requeues.discard(asyncio.current_task())  # type: ignore[arg-type]
        queue = self._queues.get(key)
        if queue and key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"telegram-chat-{key}")

    async def first_press(self, chat_id: int, message_id: int, update_id: int) -> bool:
        """True unless another update pressed this message's keyboard first (a double tap)."""
        return await self._db(self._presses.is_first, chat_id, message_id, update_id)

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await in_thread(self.settings.database_timeout_seconds, function, *args, **kwargs)

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

    async def _poll_once(self) -> None:
        """One long poll: store each update (redacted), then confirm it to Telegram with the next offset."""
        try:
            updates = await self._raw_updates(self._offset)
        except RetryAfter as exc:
            await asyncio.sleep(retry_seconds(exc))
            return
        for payload in updates:
            if not isinstance(payload, dict) or type(payload.get("update_id")) is not int:
                logger.warning("getUpdates returned an entry without an update_id; skipped")
                continue
            await self.receive(payload)
            self._offset = payload["update_id"] + 1  # confirmed to Telegram only once it is stored

    async def _delete_webhook(self) -> None:
        """``getUpdates`` is refused while a webhook is set."""
        await self.sender.bot.delete_webhook()
