"""Send an agent's words to the customer through the customer's own channel.

REST customers have no push, so their messages wait in the REST mailbox for the next
poll; Telegram customers get a message from the customer bot (not the agents' bot); X
customers get a direct message from the support account, and when X refuses it for a
customer who only wrote in public, a short public reply inviting them to a DM, with
nothing of the agent's words in it.
"""

from __future__ import annotations

import asyncio

from bot.cases.store import Case, CaseStore, TranscriptLine
from bot.desk.texts import X_PUBLIC_INVITE, CustomerTexts
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import TelegramSender
from connectors.twitter import identity as x_identity
from connectors.twitter.identity import SENDER_PREFIX as X_PREFIX
from connectors.twitter.sender import XRejected, XSender


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

    async def _direct_message(self, case: Case, text: str) -> None:
        if self._x is None:
            raise RelayUnavailable("X credentials are not set: cannot write to X customers")
        try:
            await self._x.send_dm(x_user_id(case.sender_id), text)
        except XRejected as error:
            tweet_id = case.details.get("tweet_id")
            if not tweet_id:
                raise RelayUnavailable(f"X refused the direct message ({error})") from error
            invite = self._texts.render(X_PUBLIC_INVITE, dm_link=self._x_dm_link)
            await self._x.reply(str(tweet_id), invite)
            line = TranscriptLine(role="bot", text=invite, author="desk")
            await asyncio.to_thread(self._store.record_message, case.id, line)
            raise RelayUnavailable(
                "X refused the direct message; a public reply invited the customer to DM us. "
                "Send your answer again once they write in a DM."
            ) from error

    async def send_file(self, case: Case, name: str, data: bytes, *, mime_type: str, author: str) -> None:
        """Send a file to a Telegram customer; other channels take text only from the desk."""
        if case.channel != "telegram":
            raise RelayUnavailable(f"files can only be sent to Telegram customers, not {case.channel}")
        if self._bot is None:
            raise RelayUnavailable("TELEGRAM_BOT_TOKEN is not set: cannot write to Telegram customers")
        await self._bot.send_document(telegram_chat_id(case.sender_id), data, filename=name)
        await asyncio.to_thread(
            self._store.add_attachment, case.id, kind="agent_file", name=name, mime_type=mime_type, size=len(data)
        )
        line = TranscriptLine(role="agent", text=f"[file] {name}", author=author)
        await asyncio.to_thread(self._store.record_message, case.id, line)
