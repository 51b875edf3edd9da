"""The agents' Telegram group: commands, replies to alerts and the Claim / Resolve buttons.

Runs ``getUpdates`` on the agents' own bot (never the customer bot's consumer). A reply
finds its case through the stored id of the message it answers, never by reading text.
A Telegram user acts as the agent who linked their user id (the number: a username can
change), the same identity as on the desk, so a case claimed here is answered there; a user
on the ``TELEGRAM_AGENT_IDS`` allow-list linked to no agent acts as ``tg:<id>``. Anyone else
is refused and audited.

An update is confirmed to Telegram only once it is marked handled, so one cut short by a
crash is read again. Claims, resolves and hand-backs only change a case in the state they
expect, so running them again does nothing twice; a reply or a note that was cut short is
not repeated (it may have gone through): the agent is asked to check the case.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import Bot, CallbackQuery, Message, ReplyParameters, Update, User

from bot.cases.agent_directory import AgentDirectory, group_name
from bot.cases.deliveries import DeliveryLedger
from bot.cases.group_updates import INTERRUPTED, SEEN, GroupUpdates
from bot.cases.leases import LeaderLease, run_while_leader
from bot.cases.priorities import label
from bot.cases.queue import active_cases
from bot.cases.store import CaseNotFound, utcnow
from bot.desk.service import Actor, AgentDesk, Refused
from bot.desk.telegram_replies import QUEUED

logger = logging.getLogger(__name__)

HELP = (
    "Reply to an alert to answer its customer, or: /reply <case> <text>, /claim <case>, /resolve <case>, "
    "/handback <case>, /note <case> <text>, /cases, /onduty, /offduty"
)
NOT_REPEATED = (
    "Not repeated: the desk stopped while handling this, so it may have gone through already. "
    "Check {case} and send it again if it is missing."
)
UNREPEATABLE = frozenset({"", "/reply", "/note"})  # "" is a reply to an alert
KEEP_HANDLED = timedelta(days=2)  # Telegram keeps an unconfirmed update for 24 hours


def stranger_name(user: User) -> str:
    """How the audit names someone who may not act: their username helps whoever reads it, and decides nothing."""
    return f"@{user.username}" if user.username else group_name(user.id)


class AgentGroupBot:
    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        directory: AgentDirectory,
        allowed_ids: tuple[int, ...],
        desk: AgentDesk,
        ledger: DeliveryLedger,
        lease: LeaderLease,
        handled: GroupUpdates,
        *,
        poll_timeout: int = 20,
        retry_seconds: float = 5.0,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._directory = directory
        self._allowed_ids = frozenset(allowed_ids)
        self._desk = desk
        self._ledger = ledger
        self._lease = lease
        self._handled = handled
        self._poll_timeout = poll_timeout
        self._retry_seconds = retry_seconds
        self._offset: int | None = None

    async def run(self) -> None:
        """Long-poll until cancelled, only while this desk process holds the lease.

        Telegram allows one ``getUpdates`` consumer per bot; the other desk processes wait
        to take over.
        """
        await run_while_leader(
            self._lease,
            self.poll_once,
            name="agents' group bot",
            retry_seconds=self._retry_seconds,
            on_leader=self._start_reading,
        )

    async def _start_reading(self) -> None:
        """Start from the oldest update Telegram holds: whatever the last holder left unconfirmed."""
        self._offset = None
        await asyncio.to_thread(self._handled.forget_finished_before, utcnow() - KEEP_HANDLED)

    async def poll_once(self) -> None:
        """One ``getUpdates``; each update is confirmed (next offset) only after it was handled."""
        updates = await self._bot.get_updates(
            offset=self._offset, timeout=self._poll_timeout, allowed_updates=["message", "callback_query"]
        )
        for update in updates:
            await self._handle_once(update)
            self._offset = update.update_id + 1

    async def _handle_once(self, update: Update) -> None:
        """Handle an update not handled before; one that fails is logged and kept failed, never retried."""
        found = await asyncio.to_thread(self._handled.begin, update.update_id)
        if found == SEEN:
            return
        error = None
        try:
            await self.handle(update, interrupted=found == INTERRUPTED)
        except Exception as exc:
            logger.exception("agents' group update %s failed", update.update_id)
            error = f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(self._handled.finish, update.update_id, error)

    async def handle(self, update: Update, *, interrupted: bool) -> None:
        """One update: a button press or a message in the agents' group.

        ``interrupted``: an earlier run of this update was cut short, so it may be half done.
        """
        if update.callback_query is not None:
            await self._button(update.callback_query)
        elif update.message is not None and update.message.chat.id == self._chat_id and update.message.text:
            await self._message(update.message, interrupted)

    async def _button(self, query: CallbackQuery) -> None:
        action, _, case_id = (query.data or "").partition(":")
        actor = await self._actor(query.from_user)
        if actor is None:
            await self._desk.refuse_stranger(
                stranger_name(query.from_user), "telegram", action or "button", case_id or None
            )
            await query.get_bot().answer_callback_query(query.id, text="Only configured agents can do that.")
            return
        handlers = {"claim": self._desk.claim, "resolve": self._desk.resolve}
        if action not in handlers:
            await query.get_bot().answer_callback_query(query.id, text="Unknown button.")
            return
        try:
            case = await handlers[action](actor, case_id)
            text = f"{case.id}: {case.status}"
        except (Refused, CaseNotFound) as error:
            text = f"Refused: {error}"
        await query.get_bot().answer_callback_query(query.id, text=text)

    async def _message(self, message: Message, interrupted: bool) -> None:
        user = message.from_user
        text = message.text or ""
        command, _, rest = text.partition(" ")
        command = command.split("@", 1)[0].lower() if command.startswith("/") else ""
        replied_case = await self._replied_case(message)
        if user is None or (not command and replied_case is None):
            return  # chatter in the group
        actor = await self._actor(user)
        if actor is None:
            named_case, _ = _case_and_text(rest, replied_case)
            await self._desk.refuse_stranger(
                stranger_name(user), "telegram", command.lstrip("/") or "reply", named_case
            )
            await self._answer(message, "Only configured agents can act on cases.")
            return
        if interrupted and command in UNREPEATABLE:
            named_case, _ = _case_and_text(rest, replied_case)
            await self._answer(message, NOT_REPEATED.format(case=(named_case or "the case").upper()))
            return
        if command == "/onduty":
            await asyncio.to_thread(self._desk.roster.on_duty, actor.name, via="telegram", telegram_user_id=user.id)
            await asyncio.to_thread(self._desk.audit.record, actor=actor.name, via="telegram", action="on_duty")
        try:
            answer = await self._command(actor, command, rest.strip(), replied_case, text)
        except (Refused, CaseNotFound) as error:
            answer = f"Refused: {error}"
        if answer:
            await self._answer(message, answer)

    async def _command(self, actor: Actor, command: str, rest: str, replied_case: str | None, text: str) -> str:
        if not command:
            assert replied_case is not None
            return await self._reply(actor, replied_case, text)
        if command == "/onduty":
            return f"{actor.name} is on duty."
        if command == "/offduty":
            await asyncio.to_thread(self._desk.roster.off_duty, actor.name)
            await asyncio.to_thread(self._desk.audit.record, actor=actor.name, via="telegram", action="off_duty")
            return f"{actor.name} is off duty."
        if command == "/cases":
            return await self._cases()
        without_text: dict[str, Callable[[Actor, str], Awaitable[object]]] = {
            "/claim": self._desk.claim,
            "/resolve": self._desk.resolve,
            "/handback": self._desk.hand_back,
        }
        if command in ("/reply", "/note"):
            case_id, body = _case_and_text(rest, replied_case)
            if case_id is None or not body:
                return f"Usage: {command} <case> <text>"
            if command == "/reply":
                return await self._reply(actor, case_id, body)
            await self._desk.note(actor, case_id, body)
            return f"Note on {case_id.upper()} done."
        if command in without_text:
            case_id = rest.split()[0] if rest else replied_case
            if case_id is None:
                return f"Usage: {command} <case>"
            await without_text[command](actor, case_id)
            return f"{command[1:].capitalize()} on {case_id.upper()} done."
        return HELP

    async def _reply(self, actor: Actor, case_id: str, text: str) -> str:
        """Answer the customer; the agent learns whether it went or waits in the Telegram channel's queue."""
        if await self._desk.reply(actor, case_id, text) == QUEUED:
            return f"Queued for the customer of {case_id.upper()}; the desk shows when it is sent."
        return f"Sent to the customer of {case_id.upper()}."

    async def _cases(self) -> str:
        cases = await asyncio.to_thread(active_cases, self._desk.store.engine)
        if not cases:
            return "No open cases."
        return "\n".join(
            f"{label(c.priority)} {c.id} {c.intent} {c.status}{' by ' + c.assignee if c.assignee else ''}"
            for c in cases
        )

    async def _replied_case(self, message: Message) -> str | None:
        if message.reply_to_message is None:
            return None
        return await asyncio.to_thread(
            self._ledger.case_for_message, message.chat.id, message.reply_to_message.message_id
        )

    async def _actor(self, user: User) -> Actor | None:
        """The agent this Telegram user is (by user id), or None for someone who may not act."""
        agent = await asyncio.to_thread(self._directory.by_telegram, user.id)
        if agent is not None:
            return Actor(name=agent.name, via="telegram", is_admin=agent.is_admin)
        if user.id in self._allowed_ids:
            return Actor(name=group_name(user.id), via="telegram")
        return None

    async def _answer(self, message: Message, text: str) -> None:
        await self._bot.send_message(
            message.chat.id,
            text,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )


def _case_and_text(rest: str, replied_case: str | None) -> tuple[str | None, str]:
    """``CX-... text`` or, when replying to an alert, just ``text``."""
    first, _, body = rest.partition(" ")
    if first.upper().startswith("CX-"):
        return first, body.strip()
    return replied_case, rest
