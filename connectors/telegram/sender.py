"""Send to Telegram through PTB, within its limits. No Rasa here: the agent desk uses it too."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from telegram.constants import ChatAction, MessageLimit, ParseMode
from telegram.error import BadRequest
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from connectors.telegram.ratelimit import PerChatRateLimiter, SharedWindow, SlidingWindow, Window
from connectors.telegram.settings import TelegramSettings

logger = logging.getLogger(__name__)

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096, counted on the text as the customer sees it
MAX_CALLBACK_DATA = 64  # bytes, the Bot API's limit for callback_data
MAX_SHORT_PER_ROW = 8  # the most buttons Telegram puts in one row
TYPING_STOP_SECONDS = 1.0  # the most a turn waits for its "typing..." loop to stop
SEND_BUDGET_REDIS_TIMEOUT_SECONDS = 0.5  # Redis answers the shared send budget in a millisecond when well


@dataclass(frozen=True)
class Button:
    """One inline button: ``callback_data`` comes back as a callback query, ``url`` opens a link."""

    title: str
    callback_data: str | None = None
    url: str | None = None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` characters at the cleanest boundary available.

    Paragraphs first, then lines, then words; a single word longer than ``limit`` is cut hard.
    Whitespace at a cut is dropped so no part starts or ends with a stray blank line.
    """
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator, 1, limit + 1)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def to_html(text: str) -> str:
    """Plain text made safe for ``parse_mode=HTML`` (customers' and agents' text is never markup)."""
    return html.escape(text, quote=False)


def keyboard(buttons: Sequence[Button], per_row: int = 2) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard, ``per_row`` to a row; ``None`` when there are none.

    Choices of a character or two (the 1-5 rating) share one row, read as the scale they are.
    """
    if not buttons:
        return None
    if len(buttons) <= MAX_SHORT_PER_ROW and all(len(button.title) <= 2 for button in buttons):
        per_row = len(buttons)
    keys = []
    for button in buttons:
        if button.url:
            keys.append(InlineKeyboardButton(button.title, url=button.url))
        else:
            data = button.callback_data or button.title
            if len(data.encode()) > MAX_CALLBACK_DATA:
                raise ValueError(f"callback_data longer than {MAX_CALLBACK_DATA} bytes: {data!r}")
            keys.append(InlineKeyboardButton(button.title, callback_data=data))
    return InlineKeyboardMarkup([keys[i : i + per_row] for i in range(0, len(keys), per_row)])


class TelegramSender:
    """One bot's outgoing side: messages, keyboards, files, typing, callback answers, downloads.

    Built by a factory and started with ``await sender.start()`` (or ``async with``); nothing
    talks to Telegram at construction. A ``telegram.error.TimedOut`` is raised to the caller
    and never retried here: the message may have arrived.
    """

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._me: User | None = None

    @classmethod
    def create(
        cls,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str | None = None,
        rate_limiter: PerChatRateLimiter | None = None,
        timeout: float = 10.0,
    ) -> TelegramSender:
        """A sender with our per-chat rate limiter and a request timeout of ``timeout`` seconds."""
        if base_file_url is None:
            root, _, _ = base_url.rstrip("/").rpartition("/")
            base_file_url = f"{root}/file/bot"
        bot: ExtBot[int] = ExtBot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=HTTPXRequest(read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=timeout, connect_timeout=timeout),
            rate_limiter=rate_limiter or PerChatRateLimiter(),
        )
        return cls(bot)

    @classmethod
    def from_settings(cls, settings: TelegramSettings) -> TelegramSender:
        if not settings.bot_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        return cls.create(
            settings.bot_token,
            base_url=settings.api_base_url,
            base_file_url=settings.file_base_url,
            rate_limiter=PerChatRateLimiter(
                per_chat_interval=settings.per_chat_interval_seconds,
                overall_limit=settings.overall_sends_per_second,
                overall=_shared_budget(settings, "sends", settings.overall_sends_per_second),
                paid=_paid_budget(settings),
            ),
            timeout=settings.request_timeout_seconds,
        )

    @property
    def bot(self) -> Bot:
        return self._bot

    @property
    def me(self) -> User:
        """The bot's own user, known after ``start``."""
        if self._me is None:
            raise RuntimeError("the sender has not been started")
        return self._me

    async def start(self) -> User:
        """Open the HTTP client and learn who the bot is (one ``getMe``, cached)."""
        await self._bot.initialize()
        if self._me is None:
            self._me = self._bot.bot
        return self._me

    async def stop(self) -> None:
        await self._bot.shutdown()

    async def __aenter__(self) -> TelegramSender:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def send_text(
        self, chat_id: int | str, text: str, buttons: Sequence[Button] = (), *, reply_to: int | None = None
    ) -> list[Message]:
        """Send ``text`` escaped as HTML, split at 4096 characters; buttons go on the last part."""
        parts = split_text(text)
        sent = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent.append(
                await self.send_part(chat_id, part, buttons if last else (), reply_to=reply_to if index == 0 else None)
            )
        return sent

    async def send_part(
        self, chat_id: int | str, text: str, buttons: Sequence[Button] = (), *, reply_to: int | None = None
    ) -> Message:
        """Send one part that already fits in a message (see ``split_text``)."""
        return await self._bot.send_message(
            chat_id,
            to_html(text),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(buttons),
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True if reply_to else None,
        )

    async def send_photo(self, chat_id: int | str, photo: str | bytes | Path, caption: str | None = None) -> Message:
        """Send an image by URL, file id, bytes or local path."""
        return await self._bot.send_photo(
            chat_id, photo, caption=to_html(caption) if caption else None, parse_mode=ParseMode.HTML
        )

    async def send_document(
        self, chat_id: int | str, document: str | bytes | Path, caption: str | None = None, filename: str | None = None
    ) -> Message:
        """Send a file by URL, file id, bytes or local path."""
        return await self._bot.send_document(
            chat_id,
            document,
            caption=to_html(caption) if caption else None,
            parse_mode=ParseMode.HTML,
            filename=filename,
        )

    async def typing(self, chat_id: int | str) -> bool:
        """Show "typing..." while the bot thinks; whether it was shown (it is cosmetic: a failure is only logged).

        False too when the rate limiter skipped it to keep the send budget for replies.
        """
        try:
            return bool(await self._bot.send_chat_action(chat_id, ChatAction.TYPING))
        except Exception:
            logger.warning("could not send the typing action to chat %s", chat_id, exc_info=True)
            return False

    @contextlib.asynccontextmanager
    async def keep_typing(self, chat_id: int | str, every: float = 4.0, after: float = 1.0) -> AsyncIterator[None]:
        """Show "typing..." while the block runs, once it has run ``after`` seconds (Telegram shows it ~5 s).

        A quick answer needs no indicator, and not sending one keeps the rate budget for replies.
        The loop also stops on a flag, and the block waits for it only ``TYPING_STOP_SECONDS``:
        under load a send in flight can lose the cancellation (a timeout racing it inside the
        HTTP or Redis client), and awaiting the task then held the turn, and its chat, until
        the turn timed out (about 60 s), while "typing..." went out every 4 s for good.
        """
        typing = True

        async def repeat() -> None:
            await asyncio.sleep(after)
            while typing:
                await self.typing(chat_id)
                await asyncio.sleep(every)

        task = asyncio.create_task(repeat(), name=f"typing-{chat_id}")
        try:
            yield
        finally:
            typing = False
            task.cancel()
            await asyncio.wait({task}, timeout=TYPING_STOP_SECONDS)

    async def answer_callback(self, callback_query_id: str, text: str | None = None) -> None:
        """Stop the button's spinner at once; the real answer follows as a message."""
        await self._bot.answer_callback_query(callback_query_id, text=text)

    async def clear_buttons(self, chat_id: int | str, message_id: int) -> None:
        """Remove a keyboard once used, so the same choice cannot be sent twice."""
        try:
            await self._bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except BadRequest:
            logger.info("keyboard of message %s in chat %s was already gone", message_id, chat_id)

    async def download(self, file_id: str, destination: Path, *, max_bytes: int) -> int:
        """Fetch a customer's file through ``getFile`` into ``destination``; returns its size.

        Raises ``FileTooLarge`` before downloading anything over ``max_bytes``.
        """
        file = await self._bot.get_file(file_id)
        if file.file_size is not None and file.file_size > max_bytes:
            raise FileTooLarge(file.file_size, max_bytes)
        destination.parent.mkdir(parents=True, exist_ok=True)
        await file.download_to_drive(destination)
        size = destination.stat().st_size
        if size > max_bytes:
            destination.unlink()
            raise FileTooLarge(size, max_bytes)
        return size


def _shared_budget(settings: TelegramSettings, kind: str, limit: int) -> SharedWindow | None:
    """With Redis, the bot's sends of a ``kind`` a second are counted across every server (Telegram: per bot)."""
    if not settings.redis_url or not settings.bot_token:
        return None
    timeout = min(settings.redis_timeout_seconds, SEND_BUDGET_REDIS_TIMEOUT_SECONDS)  # every send waits on it
    client = Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    bot_id = settings.bot_token.partition(":")[0]  # the token's public part: never the secret in a key
    return SharedWindow(client, f"support:telegram-{kind}:{bot_id}", limit, SlidingWindow(limit, 1.0))


def _paid_budget(settings: TelegramSettings) -> Window | None:
    """The paid broadcasts a second past the free budget, when the bot pays for them: shared as that is."""
    limit = settings.paid_sends_per_second
    if not limit:
        return None
    return _shared_budget(settings, "paid-sends", limit) or SlidingWindow(limit, 1.0)


class FileTooLarge(Exception):
    """The customer's file is over the attachment size limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size} bytes is over the {limit} byte limit")
        self.size = size
        self.limit = limit
