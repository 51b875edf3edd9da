"""Send an agent's words to the customer through the customer's own channel.

REST customers have no push, so their messages wait in the REST mailbox for the next
poll; Telegram customers get a message from the customer bot (not the agents' bot).
"""

from __future__ import annotations

import asyncio

from bot.cases.store import Case, CaseStore, TranscriptLine
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import TelegramSender


class RelayUnavailable(RuntimeError):
    """The customer's channel cannot be reached from the desk (not configured or unsupported)."""


def telegram_chat_id(sender_id: str) -> int:
    """``tg:<chat_id>:<user_id>`` -> chat id."""
    prefix, chat_id, _user_id = sender_id.split(":", 2)
    if prefix != "tg":
        raise ValueError(f"not a Telegram conversation key: {sender_id!r}")
    return int(chat_id)


class CustomerRelay:
    """One ``send`` for every channel; the line is kept on the case transcript too."""

    def __init__(self, store: CaseStore, mailbox: RestMailbox, customer_bot: TelegramSender | None) -> None:
        self._store = store
        self._mailbox = mailbox
        self._bot = customer_bot

    async def send(self, case: Case, text: str, *, author: str, role: str = "agent") -> None:
        """Deliver first, then record: a failed delivery is not shown as said."""
        if case.channel == "rest":
            await asyncio.to_thread(self._mailbox.post, case.sender_id, text, author)
        elif case.channel == "telegram":
            if self._bot is None:
                raise RelayUnavailable("TELEGRAM_BOT_TOKEN is not set: cannot write to Telegram customers")
            await self._bot.send_text(telegram_chat_id(case.sender_id), text)
        else:
            raise RelayUnavailable(f"the desk cannot write to {case.channel} customers yet")
        await asyncio.to_thread(
            self._store.record_message, case.id, TranscriptLine(role=role, text=text, author=author)
        )
