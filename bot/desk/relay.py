"""Send an agent's words to the customer through the customer's own channel.

REST customers have no push, so their messages wait in the REST mailbox for the next
poll; Telegram customers' messages are queued in the Telegram channel's reply outbox
(``telegram_replies``), which the Rasa server sends from the customer bot, in order and
with retries; X customers get a direct message from the support account, and when X
refuses it for a customer who only wrote in public, a short public reply inviting them to
a DM, with nothing of the agent's words in it. Files go to Telegram customers as documents
and to X customers as DM images (X DMs carry no documents); REST customers' mailbox is
text only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence

from sqlalchemy.engine import Connection

from bot.cases.store import Case, CaseStore, TranscriptLine
from bot.desk.telegram_replies import DELIVERED, QUEUED, SENT, Delivery, TelegramReplies
from bot.desk.texts import X_PUBLIC_INVITE, CustomerTexts
from bot.metrics import messages
from connectors.rest.mailbox import RestMailbox
from connectors.twitter import identity as x_identity
from connectors.twitter.identity import SENDER_PREFIX as X_PREFIX
from connectors.twitter.sender import XRejected, XSender, XUnavailable


class RelayUnavailable(RuntimeError):
    """The customer's channel cannot be reached from the desk (not configured or unsupported)."""


def files_refused(channel: str) -> str | None:
    """Why an agent's file cannot reach a customer on ``channel``; None when it can."""
    if channel in ("telegram", x_identity.CHANNEL):
        return None
    return f"files can only be sent to Telegram and X customers, not {channel}"


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
        telegram: TelegramReplies,
        x: XSender | None = None,
        *,
        texts: CustomerTexts | None = None,
        x_dm_link: str = "",
    ) -> None:
        self._store = store
        self._mailbox = mailbox
        self._telegram = telegram
        self._x = x
        self._texts = texts or CustomerTexts.load()
        self._x_dm_link = x_dm_link

    async def send(
        self, case: Case, text: str, *, author: str, role: str = "agent", buttons: Sequence[Mapping[str, str]] = (),
        key: str | None = None,
    ) -> str:
        """Record with what delivers it (Telegram: ``queued``; REST: ``sent``), or deliver, record (X: ``sent``).

        ``buttons`` (``title``, ``payload``): choices shown under the text where the channel has
        buttons (Telegram, REST); X direct messages carry the text alone, which says what to type.
        A delivery that failed is not recorded, so it is never shown as said. ``key``: a line
        the case already holds under it is not said again (on Telegram and REST the line and
        what delivers it are one transaction; on X the key is looked up before delivering).
        """
        line = TranscriptLine(role=role, text=text, author=author, key=key)
        if case.channel == "telegram":
            await asyncio.to_thread(self._telegram.queue_text, case, line, buttons)
            messages.sent(case.channel, role)
            return QUEUED
        if case.channel == "rest":

            def post(conn: Connection, _line_id: int) -> None:
                self._mailbox.post_in(conn, case.sender_id, text, author, buttons)

            await asyncio.to_thread(self._store.record_message, case.id, line, with_line=post)
            messages.sent(case.channel, role)
            return SENT
        if key is not None and await asyncio.to_thread(self._store.keyed_line, case.id, key) is not None:
            return SENT
        if case.channel == x_identity.CHANNEL:
            with _x_failures_refused():
                await self._direct_message(case, text)
        else:
            raise RelayUnavailable(f"the desk cannot write to {case.channel} customers")
        await asyncio.to_thread(self._store.record_message, case.id, line)
        messages.sent(case.channel, role)
        return SENT

    async def send_file(self, case: Case, name: str, data: bytes, *, mime_type: str, author: str) -> None:
        """A document for a Telegram customer (stored, then queued) or an image in an X customer's DM (sent)."""
        if case.channel == "telegram":
            await asyncio.to_thread(self._telegram.queue_file, case, name, data, mime_type=mime_type, author=author)
            messages.sent(case.channel, "agent")
            return
        if refusal := files_refused(case.channel):
            raise RelayUnavailable(refusal)
        with _x_failures_refused():
            try:
                media_id = await self._x_sender().upload_dm_image(data, mime_type)
            except XRejected as error:
                raise RelayUnavailable(f"cannot send {name} to this X customer: {error}") from error
            await self._direct_message(case, name, media_id)
        await asyncio.to_thread(
            self._store.add_attachment, case.id, kind="agent_file", name=name, mime_type=mime_type, size=len(data)
        )
        line = TranscriptLine(role="agent", text=f"[file] {name}", author=author)
        await asyncio.to_thread(self._store.record_message, case.id, line)
        messages.sent(case.channel, "agent")

    def deliveries(self, case: Case, lines: Sequence[TranscriptLine]) -> list[Delivery | None]:
        """How each line reached the customer, for the desk to show.

        Telegram lines the desk queued: from the outbox. Other agent lines were delivered
        before they were recorded, so they are sent; other lines were not sent by the desk.
        """
        queued = self._telegram.deliveries(case) if case.channel == "telegram" else {}
        shown: list[Delivery | None] = []
        for line in lines:
            if line.id is not None and line.id in queued:
                shown.append(queued[line.id])
            else:
                shown.append(DELIVERED if line.role == "agent" else None)
        return shown

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
            invite = self._texts.render(X_PUBLIC_INVITE, case.language, dm_link=self._x_dm_link)
            await x.reply(str(tweet_id), invite)
            line = TranscriptLine(role="bot", text=invite, author="desk")
            await asyncio.to_thread(self._store.record_message, case.id, line)
            raise RelayUnavailable(
                "X refused the direct message; a public reply invited the customer to DM us. "
                "Send your answer again once they write in a DM."
            ) from error


@contextlib.contextmanager
def _x_failures_refused() -> Iterator[None]:
    """X failing or not answering becomes a refusal the agent can read, not a server error."""
    try:
        yield
    except XUnavailable as error:
        raise RelayUnavailable(f"X did not take the message: {error}") from error
