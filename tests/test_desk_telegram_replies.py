"""Agents' messages to Telegram customers go through the channel's reply outbox, and the desk shows how they went.

The desk and a running Telegram channel (the Rasa side, ``ChannelHarness``) share one
database and one attachment directory; the fake Bot API is the customer's Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from bot.cases.instances import Instance
from bot.cases.store import Case
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.storage import Outbox
from tests.auxil.desk_app import act, context_of, open_case, origin, running_desk, signed_in
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.telegram_harness import ChannelHarness
from tests.auxil.waiting import until_awaited

CHAT = 5151
WAIT_SECONDS = 10.0
CLAIMED_NOTICE = "An agent has taken your case"  # sent for the agent when their first reply claims the case


def _env(tmp_path: Path) -> dict[str, str]:
    """The desk stores agents' files where the channel (``ChannelHarness``) reads them."""
    return {"TELEGRAM_ATTACHMENT_DIR": str(tmp_path / "attachments")}


@contextlib.asynccontextmanager
async def desk_and_channel(url: str, tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, TestServer, TestClient]]:
    """The customer's Telegram, the desk with alice signed in, and the channel that sends what the desk queues."""
    async with (
        FakeTelegram() as fake,
        running_desk(url, **_env(tmp_path)) as server,
        signed_in(server, "alice") as alice,
        ChannelHarness(fake, url, tmp_path),
    ):
        yield fake, server, alice


def _telegram_case(server: TestServer) -> Case:
    return open_case(server, channel="telegram", sender_id=f"tg:{CHAT}:{CHAT}")


async def _shown(client: TestClient, case_id: str) -> list[tuple[str, Any]]:
    """The transcript as the desk page gets it, each line's text and delivery, without the claimed notice."""
    view = await (await client.get(f"/api/cases/{case_id}")).json()
    lines = [(line["text"], line["delivery"]) for line in view["transcript"]]
    return [(text, delivery) for text, delivery in lines if not text.startswith(CLAIMED_NOTICE)]


def _sent_for_agents(fake: FakeTelegram) -> list[str]:
    """What reached the customer from the agent, the claimed notice left out."""
    return [text for text in fake.sent_texts(CHAT) if not text.startswith(CLAIMED_NOTICE)]


async def _desk_shows(client: TestClient, case_id: str, *states: str) -> list[tuple[str, Any]]:
    """Wait until the desk shows the agent's lines in these delivery states; the transcript it shows."""

    async def shown() -> list[tuple[str, Any]] | None:
        lines = await _shown(client, case_id)
        return lines if tuple(d["state"] for _, d in lines if d) == states else None

    return await until_awaited(shown, WAIT_SECONDS)


async def _outbox_reaches(outbox: Outbox, *statuses: str) -> None:
    """Wait until the chat's outbox rows have these statuses (read off the loop, which keeps running)."""

    async def reached() -> bool:
        return tuple(row["status"] for row in await asyncio.to_thread(outbox.rows, CHAT)) == statuses

    await until_awaited(reached, WAIT_SECONDS)


async def test_a_reply_sent_again_under_its_request_id_is_said_once(database_url, tmp_path):
    """An outside test: the desk died after recording a reply, before answering; the page said "Not sent", the
    agent sent it again, and the customer got it twice, unflagged. The page names each reply; a name the case
    holds already is not queued again, and the audit gets the reply the first request did not get to."""
    async with desk_and_channel(database_url, tmp_path) as (fake, server, alice):
        case = _telegram_case(server)
        for _ in range(2):
            sent = await act(alice, server, case.id, "reply", text="Change your password now.", request_id="r-0001-abc")
            assert sent.status == 200
        other = await act(alice, server, case.id, "reply", text="Change your password now.", request_id="r-0002-abc")
        assert other.status == 200  # a new message that happens to say the same
        edited = await act(alice, server, case.id, "reply", text="And turn on 2FA.", request_id="r-0001-abc")
        assert edited.status == 200  # another text under a name already used is another message (a review)
        await _desk_shows(alice, case.id, "sent", "sent", "sent")
        assert _sent_for_agents(fake) == ["Change your password now."] * 2 + ["And turn on 2FA."]
        bad = await act(alice, server, case.id, "reply", text="hi", request_id="no spaces allowed")
        assert bad.status == 400 and "request_id" in (await bad.json())["error"]


async def test_a_rest_reply_sent_again_under_its_request_id_is_delivered_once(database_url):
    """Two requests at once under one name (a double submit) too: the line and its mailbox message are one
    transaction, so the second finds the name taken before it posts anything."""
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server, channel="rest", sender_id="web-twice")
        twice = [act(alice, server, case.id, "reply", text="On it.", request_id="r-rest-0001") for _ in range(2)]
        assert [r.status for r in await asyncio.gather(*twice)] == [200, 200]
        assert (await act(alice, server, case.id, "reply", text="On it.", request_id="r-rest-0001")).status == 200
        mailbox = RestMailbox(context_of(server).engine)
        assert [m["text"] for m in mailbox.collect("web-twice") if m["text"] == "On it."] == ["On it."]


async def test_a_reply_and_a_file_are_queued_then_sent_by_the_telegram_channel(database_url, tmp_path):
    async with desk_and_channel(database_url, tmp_path) as (fake, server, alice):
        case = _telegram_case(server)
        assert (await act(alice, server, case.id, "reply", text="We froze <b>withdrawals</b>.")).status == 200
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 steps", filename="steps.pdf", content_type="application/pdf")
        sent_file = await alice.post(f"/api/cases/{case.id}/file", data=form, headers={"Origin": origin(server)})
        assert sent_file.status == 200, await sent_file.text()
        shown = await _desk_shows(alice, case.id, "sent", "sent")

        assert fake.sent_texts(CHAT)[0].startswith(f"{CLAIMED_NOTICE} {case.id}")  # the customer knows who answers
        assert _sent_for_agents(fake) == ["We froze &lt;b&gt;withdrawals&lt;/b&gt;."]  # agents' text is never markup
        [document] = fake.calls_to("sendDocument", CHAT)
        assert document.params["document"] == b"%PDF-1.4 steps" and document.params["document_name"] == "steps.pdf"
        sent = {"state": "sent", "error": None}
        assert shown == [
            ("someone took my BTC", None),
            ("We froze <b>withdrawals</b>.", sent),
            ("[file] steps.pdf", sent),
        ]
        [attachment] = context_of(server).store.attachments(case.id)
        assert Path(attachment["stored_path"]).is_relative_to(tmp_path / "attachments")
        stored = await alice.get(f"/api/cases/{case.id}/attachments/{attachment['id']}")
        assert await stored.read() == b"%PDF-1.4 steps"  # the agent's file stays on the case


async def test_without_a_telegram_channel_the_reply_waits_queued_and_goes_once_one_runs(database_url, tmp_path):
    async with FakeTelegram() as fake:
        async with running_desk(database_url, **_env(tmp_path)) as server, signed_in(server, "alice") as alice:
            case = _telegram_case(server)
            assert (await act(alice, server, case.id, "reply", text="We are on it.")).status == 200
            assert (await _shown(alice, case.id))[1:] == [("We are on it.", {"state": "queued", "error": None})]
        assert fake.calls == []  # the desk stopped; nothing went to Telegram

        async with ChannelHarness(fake, database_url, tmp_path) as channel:
            outbox = channel.runtime.outbox
            await _outbox_reaches(outbox, "sent", "sent")  # the claimed notice, then the reply
        assert _sent_for_agents(fake) == ["We are on it."]

        async with running_desk(database_url, **_env(tmp_path)) as server, signed_in(server, "alice") as alice:
            assert (await _shown(alice, case.id))[1:] == [("We are on it.", {"state": "sent", "error": None})]


async def test_a_customer_who_blocked_the_bot_shows_the_reply_failed_with_telegrams_reason(sqlite_url, tmp_path):
    async with desk_and_channel(sqlite_url, tmp_path) as (fake, server, alice):
        fake.refuse(CHAT)  # 403 Forbidden: bot was blocked by the user
        case = _telegram_case(server)
        assert (await act(alice, server, case.id, "reply", text="Are you still there?")).status == 200
        [_, (text, delivery)] = await _desk_shows(alice, case.id, "failed")
        assert text == "Are you still there?" and delivery["state"] == "failed"
        assert "blocked by the user" in delivery["error"]
        assert len(fake.calls_to("sendMessage", CHAT)) == 2  # the notice and the reply, each refused once: not retried


async def test_quick_replies_arrive_in_order_even_when_the_first_must_be_retried(sqlite_url, tmp_path):
    async with desk_and_channel(sqlite_url, tmp_path) as (fake, server, alice):
        fake.rate_limit(retry_after=1, chat_id=CHAT)  # the first send is answered 429: retried after 1 s
        case = _telegram_case(server)
        for text in ("one", "two", "three"):
            assert (await act(alice, server, case.id, "reply", text=text)).status == 200
        await fake.wait_for("sendMessage", 1, CHAT)
        assert [d["state"] for _, d in await _shown(alice, case.id) if d] == ["queued"] * 3  # a 429 is no failure
        await _desk_shows(alice, case.id, "sent", "sent", "sent")
        sent = fake.sent_texts(CHAT)  # the claimed notice went first: it met the 429 and was sent again
        assert sent[0] == sent[1] and sent[0].startswith(CLAIMED_NOTICE)
        assert sent[2:] == ["one", "two", "three"]  # in order behind the retried one


async def test_the_channel_sends_no_file_from_outside_the_attachment_directory(sqlite_url, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for customers")
    async with FakeTelegram() as fake, ChannelHarness(fake, sqlite_url, tmp_path) as channel:
        outbox = Outbox(channel.engine, Instance(channel.engine, "desk:test"))
        body = {"kind": "document", "path": "../secret.txt", "filename": "secret.txt"}
        outbox.add(CHAT, None, [body], origin="agent", reference="1")
        await _outbox_reaches(outbox, "failed")
        assert "outside the attachment directory" in outbox.rows(CHAT)[0]["error"]
        assert fake.calls_to("sendDocument") == []
