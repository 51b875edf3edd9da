"""Send an agent's words to the customer through the customer's own channel.

REST customers have no push, so their messages wait in the REST mailbox for the next
poll; Telegram customers get a message from the customer bot (not the agents' bot); X
customers get a direct message from the support account, and when X refuses it for a
customer who only wrote in public, a short public reply inviting them to a DM, with
nothing of the agent's words in it. Files go to Telegram customers as documents and to X
customers as DM images (X DMs carry no documents); REST customers' mailbox is text only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from telegram.error import TelegramError, TimedOut

from bot.cases.store import Case, CaseStore, TranscriptLine
from bot.desk.texts import X_PUBLIC_INVITE, CustomerTexts
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import TelegramSender
from connectors.twitter import identity as x_identity
from connectors.twitter.identity import SENDER_PREFIX as X_PREFIX
from connectors.twitter.sender import XRejected, XSender, XUnavailable


class RelayUnavailable(RuntimeError):
    """The customer's channel cannot be reached from the desk (not configured or unsupported)."""


def telegram_chat_id(sender_id: str) -> int:
    """``tg:<chat_id>:<user_id>`` -> chat id."""
    prefix, chat_id, _user_id = sender_id.split(":", 2)
    if prefix != "tg":
        raise ValueError(f"not a Telegram conversation key: {sender_id!r}")
    return int(chat_id)


def x_user_id(sender_id: str) -> str:
    """``x:<user_id>`` -> user id (the DM participant)."""
    if not sender_id.startswith(X_PREFIX) or sender_id == X_PREFIX:
        raise ValueError(f"not an X conversation key: {sender_id!r}")
    return x_identity.user_id(sender_id)


class CustomerRelay:
    """One ``send`` for every channel; the line is kept on the case transcript too."""

    def __init__(
        self,
        store: CaseStore,
        mailbox: RestMailbox,
        customer_bot: TelegramSender | None,
        x: XSender | None = None,
        *,
        texts: CustomerTexts | None = None,
        x_dm_link: str = "",
    ) -> None:
        self._store = store
        self._mailbox = mailbox
        self._bot = customer_bot
        self._x = x
        self._texts = texts or CustomerTexts.load()
        self._x_dm_link = x_dm_link

    async def send(self, case: Case, text: str, *, author: str, role: str = "agent") -> None:
        """Deliver first, then record: a failed delivery is not shown as said."""
        with _platform_failures_refused():
            if case.channel == "rest":
                await asyncio.to_thread(self._mailbox.post, case.sender_id, text, author)
            elif case.channel == "telegram":
                if self._bot is None:
                    raise RelayUnavailable("TELEGRAM_BOT_TOKEN is not set: cannot write to Telegram customers")
                await self._bot.send_text(telegram_chat_id(case.sender_id), text)
            elif case.channel == x_identity.CHANNEL:
                await self._direct_message(case, text)
            else:
                raise RelayUnavailable(f"the desk cannot write to {case.channel} customers")
        await asyncio.to_thread(
            self._store.record_message, case.id, TranscriptLine(role=role, text=text, author=author)
        )

    def _x_sender(self) -> XSender:
        if self._x is None:
            raise RelayUnavailable("X credentials are not set: cannot write to X customers")
        return self._x

    async def _direct_message(self, case: Case, text: str, media_id: str | None = None) -> None:
        x = self._x_sender()
        try:
            await x.send_dm(x_user_id(case.sender_id), text, media_id=media_id)
        except XRejected as error:
            tweet_id = case.details.get("tweet_id")
            if not tweet_id:
                raise RelayUnavailable(f"X refused the direct message ({error})") from error
            invite = self._texts.render(X_PUBLIC_INVITE, dm_link=self._x_dm_link)
            await x.reply(str(tweet_id), invite)
            line = TranscriptLine(role="bot", text=invite, author="desk")
            await asyncio.to_thread(self._store.record_message, case.id, line)
            raise RelayUnavailable(
                "X refused the direct message; a public reply invited the customer to DM us. "
                "Send your answer again once they write in a DM."
            ) from error

    async def send_file(self, case: Case, name: str, data: bytes, *, mime_type: str, author: str) -> None:
        """Send a file to a Telegram customer, or an image to an X customer's DM; deliver first, then record."""
        with _platform_failures_refused():
            if case.channel == "telegram":
                if self._bot is None:
                    raise RelayUnavailable("TELEGRAM_BOT_TOKEN is not set: cannot write to Telegram customers")
                await self._bot.send_document(telegram_chat_id(case.sender_id), data, filename=name)
            elif case.channel == x_identity.CHANNEL:
                try:
                    media_id = await self._x_sender().upload_dm_image(data, mime_type)
                except XRejected as error:
                    raise RelayUnavailable(f"cannot send {name} to this X customer: {error}") from error
                await self._direct_message(case, name, media_id)
            else:
                raise RelayUnavailable(f"files can only be sent to Telegram and X customers, not {case.channel}")
        await asyncio.to_thread(
            self._store.add_attachment, case.id, kind="agent_file", name=name, mime_type=mime_type, size=len(data)
        )
        line = TranscriptLine(role="agent", text=f"[file] {name}", author=author)
        await asyncio.to_thread(self._store.record_message, case.id, line)


@contextlib.contextmanager
def _platform_failures_refused() -> Iterator[None]:
    """A platform that fails or does not answer becomes a refusal the agent can read, not a server error."""
    try:
        yield
    except TimedOut as error:
        raise RelayUnavailable(
            "Telegram did not confirm in time: the message may have arrived, so check before sending it again"
        ) from error
    except TelegramError as error:
        raise RelayUnavailable(f"Telegram did not take the message: {error}") from error
    except XUnavailable as error:
        raise RelayUnavailable(f"X did not take the message: {error}") from error
