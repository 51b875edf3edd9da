"""What each Telegram update means for the support conversation.

Private chats run the full flow: text and button presses go through the gate to Rasa,
commands map to intents (``/lang`` sets the conversation's language itself, ``/search`` is
handed over as a help-center search: ``connectors/search_command.py``), photos and
PDF/JPG/PNG documents attach to the open case, and anything else gets a helpful reply. In
groups the bot only answers when mentioned or replied to, and then invites the customer to
a private chat (no details in public).

Edited messages are treated as new messages: customers edit to correct what they typed
(an email, a transaction id), and the corrected text is what the bot should act on.
Channel posts, member changes and unknown update types are logged and skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from telegram import CallbackQuery, Chat, Message, MessageEntity, Update, User
from telegram.error import BadRequest

from bot.cases.customer_names import CUSTOMER_NAME, display_name
from bot.cases.line_keys import notice_key
from bot.language import DEFAULT_LANGUAGE, LANGUAGES, SLOT
from bot.language.script import detect
from bot.metrics import messages
from bot.runtime.action_calls import (
    NOT_HANDLED,
    ActionCallFailed,
    ActionServerUnreachable,
    failed_calls_stop_the_turn,
)
from connectors import language_command, search_command
from connectors.gate import RATING_COMMENT_THANKS, SECRET_NOTICE, ConversationGate
from connectors.language_command import LanguageCommand, typed_language_command
from connectors.rasa_bridge import (
    UNAVAILABLE,
    TranscribingOutputChannel,
    conversation_gate,
    conversation_language,
    domain_message,
    end_form_an_agent_overtook,
    rating_comment,
    response_text,
    search_unless_urgent,
    turn_finished,
    txid_expected,
)
from connectors.telegram.output import CHANNEL, TelegramOutput, bodies_for, sender_id
from connectors.telegram.redaction import redacted_kinds
from connectors.telegram.runtime import TelegramRuntime
from connectors.telegram.sender import FileTooLarge

logger = logging.getLogger(__name__)

# Telegram command -> what Rasa receives (intents by the RegexInterpreter's "/intent" form).
COMMAND_MESSAGES = {"start": "/greet", "human": "/request_human", "status": "/ticket_status", "cancel": "/cancel"}
ACCEPTED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>[A-Za-z0-9_]+))?(?:\s+(?P<args>.*))?$", re.DOTALL)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

NON_TEXT = "utter_telegram_non_text"
HELP = "utter_help"
GROUP_MOVED = "utter_telegram_group_moved_to_private"
ATTACHMENT_RECEIVED = "utter_attachment_received"
ATTACHMENT_NO_CASE = "utter_attachment_no_case"
ATTACHMENT_TOO_LARGE = "utter_attachment_too_large"
ATTACHMENT_UNSUPPORTED = "utter_attachment_unsupported"
ATTACHMENT_UNREADABLE = "utter_attachment_unreadable"
RESPONSES = (
    NON_TEXT,
    HELP,
    GROUP_MOVED,
    ATTACHMENT_RECEIVED,
    ATTACHMENT_NO_CASE,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_UNSUPPORTED,
    ATTACHMENT_UNREADABLE,
    NOT_HANDLED,
)


@dataclass(frozen=True)
class Command:
    name: str
    args: str


def profile_name(user: User) -> str | None:
    """``First Last (@username)``, or whichever part the profile has."""
    full = display_name(user.full_name or "")
    handle = f"@{user.username}" if user.username else None
    return f"{full} ({handle})" if full and handle else full or handle


def parse_command(text: str, bot_username: str) -> Command | None:
    """``/name[@bot] args`` addressed to us (a command for another bot is not ours)."""
    match = _COMMAND.match(text.strip())
    if match is None or (match["bot"] and match["bot"].lower() != bot_username.lower()):
        return None
    return Command(match["name"].lower(), (match["args"] or "").strip())


@dataclass(frozen=True)
class _Conversation:
    """Who is talking, where, about which update, and what secrets were taken out of it before storage."""

    update_id: int
    chat_id: int
    sender_id: str
    redacted: tuple[str, ...] = ()
    replay: bool = False
    client_language: str | None = None  # the language of the customer's Telegram app, if one of ours
    customer_name: str | None = None  # their Telegram profile's, to show agents (anyone can choose any name)

    @property
    def message_id(self) -> str:
        """The update as Rasa and the case transcript know it."""
        return f"tg-{self.update_id}"


class TelegramUpdateHandler:
    """Turns one update into gate checks, Rasa messages, attachments and replies."""

    # the database, Rasa's lock store or the action server down: the turn is retried
    transient_errors: tuple[type[Exception], ...] = (*UNAVAILABLE, ActionServerUnreachable)
    turn_errors: tuple[type[Exception], ...] = (ActionCallFailed,)  # an action failed: a counted try

    def __init__(
        self, app: Sanic, runtime: TelegramRuntime, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        self._app = app
        self._runtime = runtime
        self._on_new_message = on_new_message

    @property
    def _me(self) -> User:
        return self._runtime.sender.me

    @property
    def _username(self) -> str:
        return self._runtime.settings.bot_username or self._me.username or ""

    @property
    def _gate(self) -> ConversationGate:
        return conversation_gate(self._app)

    async def __call__(
        self, update_id: int, update: Update, *, replay: bool = False, lost_attachment: str | None = None
    ) -> None:
        """Handle any update; types the support bot has no use for are logged and skipped.

        ``replay``: an earlier try of this turn may have run. If Rasa finished it (its
        tracker holds the message), it is not asked again; if the try was cut, the turn runs
        again and only the replies it had not recorded yet are added. ``lost_attachment``:
        the message came with an attachment that could not be read; the customer is told.
        """
        if update.callback_query is not None:
            await self._button(update_id, update.callback_query, replay)
            return
        edited = update.edited_message is not None
        message = update.message or update.edited_message
        if message is None or message.from_user is None or message.from_user.is_bot:
            logger.info("skipping Telegram update %s (%s)", update_id, _kind(update))
            return
        if message.chat.type != Chat.PRIVATE:
            await self._group(update_id, message)
            return
        talk = _Conversation(
            update_id,
            message.chat.id,
            sender_id(message.chat.id, message.from_user.id),
            redacted_kinds(update),
            replay,
            client_language(message.from_user.language_code),
            profile_name(message.from_user),
        )
        if not (message.text or message.caption):
            messages.received(CHANNEL)  # text and captions are counted by the gate
        if lost_attachment is not None:  # the text is a caption: say so first, as a readable file would be
            await self._say(talk, ATTACHMENT_UNREADABLE if lost_attachment in ("photo", "document") else NON_TEXT)
        if message.text:
            await self._text(talk, message.text, edited=edited)
        elif message.photo or message.document:
            if not message.caption:
                await self._warn_of_secrets(talk)  # in the file name; with a caption the gate warns
            await self._attachment(talk, message)
            if message.caption:
                await self._text(talk, message.caption, edited=edited)
        elif message.effective_attachment is not None:  # sticker, voice, location, contact, video...
            await self._say(talk, NON_TEXT)
        else:
            logger.info("skipping service message in update %s", update_id)

    async def cannot_handle(self, update_id: int, chat_id: int, *, unreadable: bool) -> None:
        """Ask for the message again: in a form the bot reads, or (the turn failed on our side) as it was."""
        private = chat_id > 0  # a private chat's id is its user's id; groups have negative ids
        language = await conversation_language(self._app, sender_id(chat_id, chat_id)) if private else DEFAULT_LANGUAGE
        notice = NON_TEXT if unreadable else NOT_HANDLED  # "I can read text messages..." / "Sorry, ... send it again"
        text = response_text(self._app, notice, language)
        await self._runtime.deliver(chat_id, update_id, [{"kind": "text", "text": text}], key=notice)

    async def _text(self, talk: _Conversation, text: str, *, edited: bool) -> None:
        """Plain text goes to the bot; our commands map to intents; any other ``/...`` gets help.

        Typed text starting with ``/`` never reaches Rasa as it is: Rasa would read
        ``/intent{"slot": ...}`` as an intent with entities, letting anyone set slots.
        """
        metadata: dict[str, Any] = {"edited": edited} if edited else {}
        if not text.lstrip().startswith("/"):
            await self._to_bot(talk, text, metadata)
            return
        command = parse_command(text, self._username)
        if command is not None and command.name == language_command.COMMAND:
            await self._language(talk, language_command.language_command(command.args))
        elif command is not None and command.name == search_command.COMMAND:
            await self._to_bot(talk, text, metadata)
        elif command is not None and command.name in COMMAND_MESSAGES:
            intent = COMMAND_MESSAGES[command.name]
            if command.name == "start":
                if command.args:
                    metadata["start_payload"] = command.args
                if talk.client_language not in (None, DEFAULT_LANGUAGE):  # no text to tell it by yet: their app's
                    intent += json.dumps({SLOT: talk.client_language})
            await self._to_bot(talk, intent, metadata)
        else:
            await self._warn_of_secrets(talk)
            await self._say(talk, HELP)

    async def _button(self, update_id: int, query: CallbackQuery, replay: bool) -> None:
        """Answer the press at once (stops the spinner), remove the keyboard, then treat it as typed."""
        try:
            await self._runtime.sender.answer_callback(query.id)
        except Exception:
            logger.warning("could not answer callback query %s", query.id, exc_info=True)
        message = query.message
        if message is None or not isinstance(message, Message) or message.chat.type != Chat.PRIVATE:
            logger.info("skipping button press without a private chat in update %s", update_id)
            return
        if not _offered(message, query.data):
            logger.warning("ignoring callback data that is not on the pressed message (update %s)", update_id)
            return
        if not await self._runtime.first_press(message.chat.id, message.message_id, update_id):
            logger.info("update %s: message %s's keyboard was pressed before: no second choice", update_id,
                        message.message_id)  # fmt: skip
            return
        await self._runtime.sender.clear_buttons(message.chat.id, message.message_id)
        payload = await asyncio.to_thread(self._runtime.callbacks.payload_for, query.data or "")
        talk = _Conversation(
            update_id,
            message.chat.id,
            sender_id(message.chat.id, query.from_user.id),
            replay=replay,
            customer_name=profile_name(query.from_user),
        )
        chosen = typed_language_command(payload) if payload else None
        if chosen is not None:
            await self._language(talk, chosen)
        elif payload:
            await self._to_bot(talk, payload, {"button": True})
        else:
            await self._say(talk, HELP)  # a button from before the callback store was wiped

    async def _to_bot(self, talk: _Conversation, text: str, metadata: dict[str, Any]) -> None:
        """Through the gate (redaction, handoff) and, if the bot owns the conversation, to Rasa."""
        message_id = talk.message_id
        if talk.replay and await turn_finished(self._app, talk.sender_id, message_id):
            logger.info("update %s: Rasa finished its turn before the restart; not asking again", talk.update_id)
            return
        gate = self._gate
        admission = await gate.admit(
            channel=CHANNEL,
            sender_id=talk.sender_id,
            text=text,
            txid_expected=await txid_expected(self._app, talk.sender_id, text),
            redacted_before=talk.redacted,
            message_id=message_id,
        )
        for notice in admission.notices:
            await self._say(talk, notice, language=admission.language)
        if not admission.for_bot:
            return
        comment = await rating_comment(self._app, admission, talk.sender_id)
        if comment.kept:
            await self._say(talk, RATING_COMMENT_THANKS, language=comment.language)
            return
        await end_form_an_agent_overtook(self._app, admission, talk.sender_id)
        output = TranscribingOutputChannel(TelegramOutput(self._runtime, talk.update_id), gate, CHANNEL, message_id)
        search = await search_unless_urgent(self._app, admission.text)
        message = UserMessage(
            search.text if search else admission.text,
            output,
            talk.sender_id,
            parse_data=search.parse_data if search else comment.parse_data,
            input_channel=CHANNEL,
            message_id=message_id,
            metadata={
                **metadata,
                "redacted": list(admission.redaction.kinds),
                **({CUSTOMER_NAME: talk.customer_name} if talk.customer_name else {}),
            },
        )
        typing = self._runtime.sender.keep_typing(talk.chat_id, after=self._runtime.settings.typing_after_seconds)
        with failed_calls_stop_the_turn():  # the inbox runs the turn again; the outbox sends no reply twice
            async with typing:
                await self._on_new_message(message)

    async def _group(self, update_id: int, message: Message) -> None:
        """Answer in a group only when addressed, and only to move the conversation to private."""
        if not self._addressed(message):
            return
        link = f"https://t.me/{self._username}?start=group"
        language = detect(message.text or message.caption or "") or DEFAULT_LANGUAGE
        text = response_text(self._app, GROUP_MOVED, language, link=link)
        body = {"kind": "text", "text": text, "reply_to": message.message_id}
        await self._runtime.deliver(message.chat.id, update_id, [body], key=GROUP_MOVED)

    def _addressed(self, message: Message) -> bool:
        """Mentioned (@bot, a text mention, ``/cmd@bot``) or replied to."""
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == self._me.id:
            return True
        mention = f"@{self._username}".lower()
        for entity, value in (message.parse_entities() or {}).items():
            if entity.type == MessageEntity.MENTION and value.lower() == mention:
                return True
            if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == self._me.id:
                return True
            if entity.type == MessageEntity.BOT_COMMAND and value.lower().endswith(mention):
                return True
        return False

    async def _attachment(self, talk: _Conversation, message: Message) -> None:
        """Download a photo or PDF/JPG/PNG document and attach it to the customer's active case.

        Without an active case nothing is kept: the customer is asked to describe the issue
        first and send the file again, so no file sits in storage unowned.
        """
        if message.photo:
            photo = message.photo[-1]  # the largest size
            file_id, size, mime, kind = photo.file_id, photo.file_size, "image/jpeg", "photo"
            name = f"photo_{photo.file_unique_id}.jpg"
        else:
            document = message.document
            assert document is not None
            file_id, size, kind = document.file_id, document.file_size, "document"
            name = document.file_name or f"document_{document.file_unique_id}"
            mime = _accepted_type(document.mime_type, name) or ""
            if not mime:
                await self._say(talk, ATTACHMENT_UNSUPPORTED)
                return
        limit = self._runtime.settings.max_attachment_bytes
        if size is not None and size > limit:
            await self._say(talk, ATTACHMENT_TOO_LARGE)
            return
        store = self._gate.store
        case = await asyncio.to_thread(store.active_case, CHANNEL, talk.sender_id)
        if case is None:
            await self._say(talk, ATTACHMENT_NO_CASE)
            return
        if any(a["platform_file_id"] == file_id for a in await asyncio.to_thread(store.attachments, case.id)):
            await self._say(talk, ATTACHMENT_RECEIVED)  # a replay after a restart: attached already
            return
        path = Path(self._runtime.settings.attachment_dir) / case.id / f"{talk.update_id}_{_SAFE_NAME.sub('_', name)}"
        try:
            stored_size = await self._runtime.sender.download(file_id, path, max_bytes=limit)
        except FileTooLarge:
            await self._say(talk, ATTACHMENT_TOO_LARGE)
            return
        except BadRequest as exc:  # getFile serves up to 20 MB; past that Telegram answers "file is too big"
            if "too big" not in str(exc).lower():
                raise
            await self._say(talk, ATTACHMENT_TOO_LARGE)
            return
        await asyncio.to_thread(
            store.add_attachment,
            case.id,
            kind=kind,
            name=name,
            mime_type=mime,
            size=stored_size,
            platform_file_id=file_id,
            stored_path=str(path),
        )
        await self._say(talk, ATTACHMENT_RECEIVED)

    async def _warn_of_secrets(self, talk: _Conversation) -> None:
        """Tell the customer to rotate a secret taken out of an update the gate does not see."""
        if talk.redacted:
            await self._say(talk, SECRET_NOTICE)

    async def _language(self, talk: _Conversation, command: LanguageCommand) -> None:
        """``/lang``: set the language (if one was named) and answer in it, with the three to choose from."""
        _language, reply = await language_command.answer(self._app, CHANNEL, talk.sender_id, command)
        await self._send(talk, language_command.ANSWER, reply)

    async def _say(self, talk: _Conversation, name: str, *, language: str | None = None, **values: Any) -> None:
        """Send a domain response, buttons too, outside the turn, in the conversation's language; keep it on the case.

        ``language``: the language of the message being answered, when it made one clear.
        """
        language = language or await conversation_language(self._app, talk.sender_id)
        await self._send(talk, name, domain_message(self._app, name, language, **values))

    async def _send(self, talk: _Conversation, name: str, message: dict[str, Any]) -> None:
        """Keep ``message`` (response ``name``) on the case, once per update, and have it delivered."""
        key = notice_key(talk.message_id, name)
        await self._gate.record_bot_reply(channel=CHANNEL, sender_id=talk.sender_id, text=message["text"], key=key)
        await self._runtime.deliver(talk.chat_id, talk.update_id, bodies_for(message), key=name)


def client_language(language_code: str | None) -> str | None:
    """Ours for a Telegram app language (``ko``, ``zh-hans``, ``en-GB``, ...); None for any other."""
    base = (language_code or "").lower().split("-")[0]
    return base if base in LANGUAGES else None


def _offered(message: Message, data: str | None) -> bool:
    """True when ``data`` is on a button of the pressed message, as Telegram reports that message.

    Clients can send any callback data; only what the bot offered may act as the customer's choice.
    """
    keyboard = message.reply_markup.inline_keyboard if message.reply_markup else ()
    return data is not None and any(button.callback_data == data for row in keyboard for button in row)


def _accepted_type(mime_type: str | None, name: str) -> str | None:
    """The attachment's MIME type if it is a PDF, JPG or PNG (by type, else by file extension)."""
    if mime_type in ACCEPTED_TYPES:
        return mime_type
    suffix = Path(name).suffix.lower()
    by_suffix = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
    return by_suffix.get(suffix) if mime_type in (None, "", "application/octet-stream") else None


def _kind(update: Update) -> str:
    fields = [k for k in update.to_dict() if k != "update_id"]
    return ",".join(fields) or "empty"
