"""What the support account does with each mention and each direct message.

Mentions are classified (never run through the dialogue in public) and answered once with
a short invitation to DM, in the post's language; a P1 opens a case at once. DMs pass the
gate and run the full Rasa flow, with numbered choices standing in for buttons; ``/lang``
sets the conversation's language; ``/search <words>`` is a help-center search
(``connectors/search_command.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.cases.priorities import P1, priority_for
from bot.cases.redaction import Redaction, redact
from bot.cases.store import TranscriptLine
from bot.language import DEFAULT_LANGUAGE
from bot.language.script import detect
from bot.metrics import messages
from connectors import language_command
from connectors.gate import RATING_COMMENT_THANKS
from connectors.rasa_bridge import (
    NOT_A_COMMENT,
    TranscribingOutputChannel,
    conversation_gate,
    conversation_language,
    end_form_an_agent_overtook,
    rating_comment,
    response_text,
    search_unless_urgent,
    txid_expected,
)
from connectors.twitter.identity import CHANNEL, conversation_key, event_log_id
from connectors.twitter.output import XOutput
from connectors.twitter.public import fit, personal_data, without_handles
from connectors.twitter.sender import DmEvent, Mention, XFeatureDisabled, XRejected, XSender
from connectors.twitter.settings import XSettings
from connectors.twitter.state import DM, MENTION, THREAD, XState

logger = logging.getLogger(__name__)

PUBLIC_REPLY = "utter_x_public_reply"
PUBLIC_REPLY_P1 = "utter_x_public_reply_p1"
LEAK_WARNING = "utter_x_public_leak_warning"
LEAK_WARNING_P1 = "utter_x_public_leak_warning_p1"
CHOICE_HINT = "utter_x_reply_with_number"
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class XConversations:
    """Handles mentions and DM events once each; ``XUnavailable`` means try the event again later."""

    def __init__(
        self, app: Sanic, on_new_message: OnNewMessage, sender: XSender, state: XState, settings: XSettings
    ) -> None:
        self._app = app
        self._on_new_message = on_new_message
        self._sender = sender
        self._state = state
        self._settings = settings

    def ready(self) -> bool:
        """True once Rasa's agent (model and domain) is loaded: before that nothing can be answered."""
        agent = getattr(self._app.ctx, "agent", None)
        return agent is not None and agent.is_ready()

    async def mention(self, mention: Mention, *, redacted: tuple[str, ...]) -> None:
        """Answer ``mention`` in public unless it is ours, a retweet or already answered.

        ``redacted``: kinds of secret the inbox took out of its text before storing it.
        """
        if await asyncio.to_thread(self._state.processed, MENTION, mention.id):
            return
        done = [(MENTION, mention.id)]
        if mention.author_id != self._settings.account_id and not mention.is_retweet:
            messages.received(CHANNEL)
            done += await self._answer(mention, redacted)
        await asyncio.to_thread(self._state.finish, *done)

    async def _answer(self, mention: Mention, redacted: tuple[str, ...]) -> list[tuple[str, str]]:
        redaction = await asyncio.to_thread(redact, mention.text)
        redaction = replace(redaction, kinds=tuple(dict.fromkeys((*redacted, *redaction.kinds))))
        leaked = bool(redaction.kinds) or bool(personal_data(mention.text))
        intent = await self._intent(without_handles(redaction.text))
        urgent = intent is not None and priority_for(intent, credentials_exposed=redaction.found_secret) == P1
        if urgent and intent is not None:
            await self._alert_agents(mention, intent, redaction)
        thread = (THREAD, f"{mention.conversation_id}:{mention.author_id}")
        if not (leaked or urgent) and await asyncio.to_thread(self._state.processed, *thread):
            return []  # already invited in this thread: one invitation is enough
        name = {
            (False, False): PUBLIC_REPLY,
            (False, True): PUBLIC_REPLY_P1,
            (True, False): LEAK_WARNING,
            (True, True): LEAK_WARNING_P1,
        }[(leaked, urgent)]
        language = detect(without_handles(redaction.text)) or DEFAULT_LANGUAGE
        text = fit(response_text(self._app, name, language, dm_link=self._settings.dm_link))
        try:
            await self._sender.reply(mention.id, text)
            messages.sent(CHANNEL, "bot")
        except XFeatureDisabled:  # reported once by the sender; a P1 case above still alerts agents
            logger.debug("mention %s not answered: the X plan cannot post", mention.id)
        except XRejected:
            logger.error("X refused our reply to mention %s; it stays unanswered", mention.id)
        return [thread]

    async def _intent(self, text: str) -> str | None:
        """The trained model's intent for ``text``, without running the dialogue."""
        if not self.ready() or not text:
            return None
        parsed = await self._app.ctx.agent.parse_message(text)
        name = (parsed.get("intent") or {}).get("name")
        return str(name) if name and name != "nlu_fallback" else None

    async def _alert_agents(self, mention: Mention, intent: str, redaction: Redaction) -> None:
        """Open the P1 case now (its outbox row alerts agents); a second post joins the open case.

        The post's id names its case and its line, so a mention tried again opens or adds neither twice.
        """
        store = conversation_gate(self._app).store
        sender_id = conversation_key(mention.author_id)
        post = event_log_id(MENTION, mention.id)
        line = TranscriptLine(role="customer", text=redaction.text, author=sender_id, key=post)
        case = await asyncio.to_thread(store.active_case, CHANNEL, sender_id)
        if case is not None:
            await asyncio.to_thread(store.record_message, case.id, line)
            return
        case = await asyncio.to_thread(
            lambda: store.open_case(
                intent=intent,
                priority=P1,
                channel=CHANNEL,
                sender_id=sender_id,
                summary=f"Public post on X: {redaction.text[:200]}",
                language=detect(without_handles(redaction.text)) or DEFAULT_LANGUAGE,
                details={
                    "source": "x_mention",
                    "tweet_id": mention.id,
                    "x_username": mention.author_username,
                    "redacted": list(redaction.kinds),
                },
                transcript=[line],
                opened_by_message=post,
            )
        )
        logger.info("opened P1 case %s from X mention %s", case.id, mention.id)

    async def dm(self, event: DmEvent, *, redacted: tuple[str, ...]) -> None:
        """Run one direct message through the gate and Rasa, once (``redacted`` as for a mention)."""
        if await asyncio.to_thread(self._state.processed, DM, event.id):
            return
        if event.sender_id != self._settings.account_id:
            try:
                await self._converse(event, redacted)
            except XFeatureDisabled:  # reported once by the sender; the gate kept the message on any case
                logger.debug("DM event %s not answered: the X plan cannot send DMs", event.id)
            except XRejected:
                logger.error("X refused a reply in DM event %s", event.id)
        await asyncio.to_thread(self._state.finish, (DM, event.id))

    async def _converse(self, event: DmEvent, redacted: tuple[str, ...]) -> None:
        sender_id = conversation_key(event.sender_id)
        choice = _chosen(event.text, await asyncio.to_thread(self._state.take_choices, sender_id))
        command = language_command.typed_language_command(choice[1] if choice else event.text)
        if command is not None:
            chosen, reply = await language_command.answer(self._app, CHANNEL, sender_id, command)

            async def in_use() -> str:
                return chosen

            await XOutput(self._sender, self._state, self._choice_hint(in_use)).send_response(sender_id, reply)
            return
        gate = conversation_gate(self._app)
        message_id = event_log_id(DM, event.id)
        text = choice[0] if choice else event.text
        admission = await gate.admit(
            channel=CHANNEL,
            sender_id=sender_id,
            text=text,
            txid_expected=await txid_expected(self._app, sender_id, text),
            redacted_before=redacted,
            message_id=message_id,
        )
        known_language = admission.language

        async def language() -> str:
            """This message's language, else the conversation's (looked up only when a text needs it)."""
            return known_language or await conversation_language(self._app, sender_id)

        hint = self._choice_hint(language)
        output = TranscribingOutputChannel(XOutput(self._sender, self._state, hint), gate, CHANNEL, message_id)
        for notice in admission.notices:
            await output.send_response(sender_id, {"text": response_text(self._app, notice, await language())})
        if not admission.for_bot:
            return
        comment = NOT_A_COMMENT if choice else await rating_comment(self._app, admission, sender_id)
        if comment.kept:
            thanks = response_text(self._app, RATING_COMMENT_THANKS, comment.language)
            await output.send_response(sender_id, {"text": thanks})
            return
        await end_form_an_agent_overtook(self._app, admission, sender_id)
        said = choice[1] if choice else admission.text
        search = None if choice else await search_unless_urgent(self._app, said)
        await self._on_new_message(
            UserMessage(
                search.text if search else said,
                output,
                sender_id,
                parse_data=search.parse_data if search else comment.parse_data,
                input_channel=CHANNEL,
                message_id=message_id,
                metadata={"x_dm_event_id": event.id, "redacted": list(admission.redaction.kinds)},
            )
        )

    def _choice_hint(self, language: Callable[[], Awaitable[str]]) -> Callable[[int], Awaitable[str]]:
        """"Reply with a number (1-n)" in the language ``language()`` gives."""

        async def hint(count: int) -> str:
            return response_text(self._app, CHOICE_HINT, await language(), count=count)

        return hint


def _chosen(text: str, choices: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The (title, payload) the customer picked by number, if they did."""
    match = _NUMBER.match(text)
    if match is None or not 1 <= int(match.group(1)) <= len(choices):
        return None
    return choices[int(match.group(1)) - 1]
