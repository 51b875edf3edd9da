"""What every channel needs from the running Rasa server: the gate, domain texts, tracker state.

Channels get the Sanic app with each request; the shared objects live on ``app.ctx`` and
are built on first use, never at import time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.core.lock_store import LockError
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
from redis.exceptions import RedisError
from sanic import Sanic

from bot.cases.database import DATABASE_UNAVAILABLE, make_engine
from bot.cases.line_keys import ReplyKeys
from bot.cases.priorities import PRESSING_INTENTS, URGENT_INTENTS
from bot.cases.redaction import holds_key_or_txid
from bot.cases.store import CaseStore
from bot.language import DEFAULT_LANGUAGE, SLOT, known
from bot.language.script import detect
from bot.language.variations import for_language
from bot.nlu_components.p1_safety_net import P1_CHECK
from bot.settings import Settings
from connectors.gate import TXID_SLOT, Admission, ConversationGate
from connectors.search_command import SearchMessage, search_message

UNAVAILABLE: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, RedisError, LockError)
"""What a turn raises while the database or Rasa's Redis lock store is unreachable: the client may retry."""


def conversation_gate(app: Sanic) -> ConversationGate:
    """The process-wide gate (and case store) for this Rasa server."""
    gate = getattr(app.ctx, "conversation_gate", None)
    if gate is None:
        settings = Settings.from_env()
        engine = make_engine(settings.database_url, timeouts=settings.database_timeouts)
        store = CaseStore(engine, default_wait_minutes=settings.default_wait_minutes)
        gate = ConversationGate(store, comment_window=timedelta(minutes=settings.rating_comment_minutes))
        app.ctx.conversation_gate = gate
    return gate


def response(app: Sanic, name: str, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Domain response ``name`` in ``language``: the variation Rasa would pick for that ``language`` slot."""
    agent = getattr(app.ctx, "agent", None)
    variations = agent.domain.responses.get(name, []) if agent is not None and agent.domain else []
    texts = [v for v in variations if v.get("text")]
    if not texts:
        raise KeyError(f"domain has no text response {name!r}")
    return dict(for_language(texts, language))


def domain_message(app: Sanic, name: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> dict[str, Any]:
    """Domain response ``name`` as a message to send: its text (``{slots}`` filled) and its buttons, if any."""
    chosen = response(app, name, language)
    message: dict[str, Any] = {"text": str(chosen["text"]).format(**values) if values else str(chosen["text"])}
    if chosen.get("buttons"):
        message["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in chosen["buttons"]]
    return message


def response_text(app: Sanic, name: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    """The text of domain response ``name`` in ``language``, with ``{slots}`` filled from ``values``."""
    text = str(response(app, name, language)["text"])
    return text.format(**values) if values else text


async def conversation_language(app: Sanic, sender_id: str, text: str = "") -> str:
    """The language to answer in: the one ``text`` makes clear, else the conversation's, else English."""
    detected = detect(text) if text else None
    if detected is not None:
        return detected
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return DEFAULT_LANGUAGE
    tracker = await agent.tracker_store.retrieve(sender_id)
    return known(tracker.get_slot(SLOT)) if tracker is not None else DEFAULT_LANGUAGE


async def choose_language(app: Sanic, channel: str, sender_id: str, language: str) -> None:
    """``/lang``: set the conversation's ``language`` slot, and its open case's language, now.

    Appended to the tracker under the conversation's lock, as Rasa's own "append events"
    endpoint does; the next turn starts from it (a new session carries the slot over).
    """
    agent = app.ctx.agent
    async with agent.lock_store.lock(sender_id):
        tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
        tracker.update(SlotSet(SLOT, language))
        await agent.tracker_store.save(tracker)
    store = conversation_gate(app).store
    case = await asyncio.to_thread(store.active_case, channel, sender_id)
    if case is not None and case.language != language:
        await asyncio.to_thread(store.set_language, case.id, language)


async def txid_expected(app: Sanic, sender_id: str, text: str) -> bool:
    """True when ``text`` holds a bare hash and the bot's open question is the transaction id, so it is a txid.

    The tracker is read only for a message with such a hash: the answer changes nothing else.
    """
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None or not holds_key_or_txid(text):
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker is not None and tracker.get_slot("requested_slot") == TXID_SLOT


async def search_unless_urgent(app: Sanic, text: str) -> SearchMessage | None:
    """``/search <words>`` as a help-center search, unless the NLU reads the words as a P1 report.

    The search skips the NLU (``search_command``), and so would skip the P1 safety net: "/search
    someone took my coins" must reach the theft flow, not a list of articles. One parse, for
    searches only, and Rasa takes its result rather than parsing the words again.
    """
    search = search_message(text)
    agent = getattr(app.ctx, "agent", None)
    if search is None or not search.has_words or agent is None or not agent.is_ready():
        return search
    parsed = await agent.parse_message(search.text)
    urgent = (parsed.get("intent") or {}).get("name") in URGENT_INTENTS or P1_CHECK in parsed
    return search.as_understood(parsed) if urgent else search


@dataclass(frozen=True)
class RatingComment:
    """What became of a message that may be the comment on a rating just given.

    ``kept``: it is on the case as the comment (the channel thanks the customer in ``language``,
    the message's or else the case's; Rasa is not asked). Otherwise it takes its normal route,
    with ``parse_data`` the NLU's reading when one was made (Rasa takes it rather than parsing
    the same words again).
    """

    kept: bool
    parse_data: dict[str, Any] | None = None
    language: str = DEFAULT_LANGUAGE


NOT_A_COMMENT = RatingComment(kept=False)


async def rating_comment(app: Sanic, admission: Admission, sender_id: str) -> RatingComment:
    """Keep the message after a rating as its comment, unless it is a command or a new P1/P2 problem.

    "My account was just hacked" after a rating must reach the theft flow, not sit on a
    closed case: the NLU reads the words once, and a P1 or P2 reading (or the P1 safety net's
    question) sends them on to Rasa with that reading. Without a reading (the model still
    loading) nothing is kept unread: the message takes its normal route.
    """
    case = admission.comment_case
    if case is None:
        return NOT_A_COMMENT
    gate = conversation_gate(app)
    agent = getattr(app.ctx, "agent", None)
    if admission.text.lstrip().startswith("/") or agent is None or not agent.is_ready():
        await gate.pass_over_comment(case)
        return NOT_A_COMMENT
    parsed = await agent.parse_message(admission.text)
    if (parsed.get("intent") or {}).get("name") in PRESSING_INTENTS or P1_CHECK in parsed:
        await gate.pass_over_comment(case)
        return RatingComment(kept=False, parse_data=parsed)
    kept = await gate.keep_comment(case, sender_id, admission.text, admission.message_id)
    return RatingComment(kept=kept, parse_data=parsed, language=admission.language or case.language)


async def end_form_an_agent_overtook(app: Sanic, admission: Admission, sender_id: str) -> None:
    """End the form the bot was in when an agent took the case over, once the agent resolved it.

    The customer's messages went to the agent meanwhile, so the form's last question is long
    gone: without this, "my account was hacked again" after the resolution would be taken as
    the answer to it. Only the first turn after the resolution is concerned (the tracker has
    no event since); the tracker is read only for a customer whose latest case an agent resolved.
    """
    case = admission.agent_resolved
    agent = getattr(app.ctx, "agent", None)
    if case is None or case.resolved_at is None or agent is None or agent.tracker_store is None:
        return
    async with agent.lock_store.lock(sender_id):
        tracker = await agent.tracker_store.retrieve(sender_id)
        if tracker is None or not tracker.active_loop_name or not tracker.events:
            return
        if tracker.events[-1].timestamp >= case.resolved_at.timestamp():
            return  # the bot has had a turn since: its form is a new one
        tracker.update(ActiveLoop(None))
        tracker.update(SlotSet(REQUESTED_SLOT, None))
        await agent.tracker_store.save(tracker)


async def turn_finished(app: Sanic, sender_id: str, message_id: str) -> bool:
    """True when Rasa saved a turn for this message: it saves the tracker only once a turn completes."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return False
    tracker = await agent.tracker_store.retrieve(sender_id)
    return tracker is not None and any(
        isinstance(event, UserUttered) and event.message_id == message_id for event in tracker.events
    )


class TranscribingOutputChannel(OutputChannel):
    """Wraps a channel's output so every bot reply also lands in the open case's transcript.

    ``message_id``: the customer message being answered; its replies are keyed by it, so a
    turn run again does not copy them.
    """

    def __init__(self, inner: OutputChannel, gate: ConversationGate, channel: str, message_id: str | None) -> None:
        self._inner = inner
        self._gate = gate
        self._channel = channel
        self._keys = ReplyKeys(message_id)

    def name(self) -> str:  # type: ignore[override]
        return self._inner.name()

    @property
    def inner(self) -> OutputChannel:
        return self._inner

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if text := message.get("text"):
            key = self._keys.next(message.get("utter_action"), text)
            await self._gate.record_bot_reply(channel=self._channel, sender_id=recipient_id, text=text, key=key)
        await self._inner.send_response(recipient_id, message)
