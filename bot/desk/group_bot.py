"""The agents' Telegram group: commands, replies to alerts and the Claim / Resolve buttons.

Runs ``getUpdates`` on the agents' own bot (never the customer bot's consumer). A reply
finds its case through the stored id of the message it answers, never by reading text.
Only user ids on the allow-list may act; anyone else is refused and audited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, CallbackQuery, Message, ReplyParameters, Update, User

from bot.cases.deliveries import DeliveryLedger
from bot.cases.leases import LeaderLease
from bot.cases.priorities import label
from bot.cases.queue import active_cases
from bot.cases.store import CaseNotFound
from bot.desk.service import Actor, AgentDesk, Refused

logger = logging.getLogger(__name__)

HELP = (
    "Reply to an alert to answer its customer, or: /reply <case> <text>, /claim <case>, /resolve <case>, "
    "/handback <case>, /note <case> <text>, /cases, /onduty, /offduty"
)


def agent_name(user: User) -> str:
    return f"@{user.username}" if user.username else f"tg:{user.id}"


class AgentGroupBot:
    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        agent_ids: tuple[int, ...],
        desk: AgentDesk,
        ledger: DeliveryLedger,
        lease: LeaderLease,
        *,
        poll_timeout: int = 20,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._agent_ids = frozenset(agent_ids)
        self._desk = desk
        self._ledger = ledger
        self._lease = lease
        self._poll_timeout = poll_timeout

    async def run(self) -> None:
        """Long-poll until cancelled; a failing update is logged and skipped, never retried forever.

        Only the desk process holding the database lease polls (Telegram allows one
        ``getUpdates`` consumer per bot); the others wait to take over.
        """
        offset = 0
        while True:
            if not await asyncio.to_thread(self._lease.acquire):
                await asyncio.sleep(self._lease.seconds / 3)
                continue
            try:
                updates = await self._bot.get_updates(
                    offset=offset, timeout=self._poll_timeout, allowed_updates=["message", "callback_query"]
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("getUpdates on the agents' bot failed; retrying")
                await asyncio.sleep(2)
                continue
            for update in updates:
                offset = update.update_id + 1
                try:
                    await self.handle(update)
                except Exception:
                    logger.exception("agents' group update %s failed", update.update_id)

    async def handle(self, update: Update) -> None:
        """One update: a button press or a message in the agents' group."""
        if update.callback_query is not None:
            await self._button(update.callback_query)
        elif update.message is not None and update.message.chat.id == self._chat_id and update.message.text:
            await self._message(update.message)

    async def _button(self, query: CallbackQuery) -> None:
        action, _, case_id = (query.data or "").partition(":")
        if query.from_user.id not in self._agent_ids:
            await self._desk.refuse_stranger(
                agent_name(query.from_user), "telegram", action or "button", case_id or None
            )
            await query.get_bot().answer_callback_query(query.id, text="Only configured agents can do that.")
            return
        actor = self._actor(query.from_user)
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

    async def _message(self, message: Message) -> None:
        user = message.from_user
        text = message.text or ""
        command, _, rest = text.partition(" ")
        command = command.split("@", 1)[0].lower() if command.startswith("/") else ""
        replied_case = await self._replied_case(message)
        if user is None or (not command and replied_case is None):
            return  # chatter in the group
        if user.id not in self._agent_ids:
            named_case, _ = _case_and_text(rest, replied_case)
            await self._desk.refuse_stranger(agent_name(user), "telegram", command.lstrip("/") or "reply", named_case)
            await self._answer(message, "Only configured agents can act on cases.")
            return
        actor = self._actor(user)
        if command == "/onduty":
            await asyncio.to_thread(self._desk.roster.on_duty, actor.name, via="telegram", telegram_user_id=user.id)
        try:
            answer = await self._command(actor, command, rest.strip(), replied_case, text)
        except (Refused, CaseNotFound) as error:
            answer = f"Refused: {error}"
        if answer:
            await self._answer(message, answer)

    async def _command(self, actor: Actor, command: str, rest: str, replied_case: str | None, text: str) -> str:
        if not command:
            assert replied_case is not None
            await self._desk.reply(actor, replied_case, text)
            return f"Sent to the customer of {replied_case}."
        if command == "/onduty":
            return f"{actor.name} is on duty."
        if command == "/offduty":
            await asyncio.to_thread(self._desk.roster.off_duty, actor.name)
            return f"{actor.name} is off duty."
        if command == "/cases":
            return await self._cases()
        with_text: dict[str, Callable[[Actor, str, str], Awaitable[object]]] = {
            "/reply": self._desk.reply,
            "/note": self._desk.note,
        }
        without_text: dict[str, Callable[[Actor, str], Awaitable[object]]] = {
            "/claim": self._desk.claim,
            "/resolve": self._desk.resolve,
            "/handback": self._desk.hand_back,
        }
        if command in with_text:
            case_id, body = _case_and_text(rest, replied_case)
            if case_id is None or not body:
                return f"Usage: {command} <case> <text>"
            await with_text[command](actor, case_id, body)
            return f"{command[1:].capitalize()} on {case_id.upper()} done."
        if command in without_text:
            case_id = rest.split()[0] if rest else replied_case
            if case_id is None:
                return f"Usage: {command} <case>"
            await without_text[command](actor, case_id)
            return f"{command[1:].capitalize()} on {case_id.upper()} done."
        return HELP

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

    def _actor(self, user: User) -> Actor:
        return Actor(name=agent_name(user), via="telegram")

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
