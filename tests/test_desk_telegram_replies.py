"""Agents' messages to Telegram customers go through the channel's reply outbox, and the desk shows how they went.

The desk and a running Telegram channel (the Rasa side, ``ChannelHarness``) share one
database and one attachment directory; the fake Bot API is the customer's Telegram.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from bot.cases.instances import Instance
from bot.cases.store import Case
from connectors.telegram.storage import Outbox
from tests.auxil.desk_app import act, context_of, open_case, origin, running_desk, signed_in
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.telegram_harness import ChannelHarness
from tests.auxil.waiting import until

CHAT = 5151
WAIT_SECONDS = 10.0


def _env(tmp_path: Path) -> dict[str, str]:
    """The desk stores agents' files where the channel (``ChannelHarness``) reads them."""
    return {"TELEGRAM_ATTACHMENT_DIR": str(tmp_path / "attachments")}


def _telegram_case(server: TestServer) -> Case:
    return open_case(server, channel="telegram", sender_id=f"tg:{CHAT}:{CHAT}")


async def _shown(client: TestClient, case_id: str) -> list[tuple[str, Any]]:
    """The transcript as the desk page gets it: each line's text and delivery."""
    view = await (await client.get(f"/api/cases/{case_id}")).json()
    return [(line["text"], line["delivery"]) for line in view["transcript"]]


def _states(server: TestServer, case_id: str) -> list[str | None]:
    """Each agent line's delivery state, read the way the desk's view reads it."""
    context = context_of(server)
    case = context.store.get(case_id)
    lines = context.store.transcript(case_id)
    deliveries = context.desk.relay.deliveries(case, lines)
    return [d.state if d else None for line, d in zip(lines, deliveries, strict=True) if line.role == "agent"]


async def test_a_reply_and_a_file_are_queued_then_sent_by_the_telegram_channel(database_url, tmp_path):
    async with (
        FakeTelegram() as fake,
        running_desk(database_url, **_env(tmp_path)) as server,
        signed_in(server, "alice") as alice,
        ChannelHarness(fake, database_url, tmp_path),
    ):
        case = _telegram_case(server)
        assert (await act(alice, server, case.id, "reply", text="We froze <b>withdrawals</b>.")).status == 200
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 steps", filename="steps.pdf", content_type="application/pdf")
        sent_file = await alice.post(f"/api/cases/{case.id}/file", data=form, headers={"Origin": origin(server)})
        assert sent_file.status == 200, await sent_file.text()
        await until(lambda: _states(server, case.id) == ["sent", "sent"], WAIT_SECONDS)

        assert fake.sent_texts(CHAT) == ["We froze &lt;b&gt;withdrawals&lt;/b&gt;."]  # agents' text is never markup
        [document] = fake.calls_to("sendDocument", CHAT)
        assert document.params["document"] == b"%PDF-1.4 steps" and document.params["document_name"] == "steps.pdf"
        sent = {"state": "sent", "error": None}
        assert await _shown(alice, case.id) == [
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
            await until(lambda: [r["status"] for r in outbox.rows(CHAT)] == ["sent"], WAIT_SECONDS)
        assert fake.sent_texts(CHAT) == ["We are on it."]

        async with running_desk(database_url, **_env(tmp_path)) as server, signed_in(server, "alice") as alice:
            assert (await _shown(alice, case.id))[1:] == [("We are on it.", {"state": "sent", "error": None})]


async def test_a_customer_who_blocked_the_bot_shows_the_reply_failed_with_telegrams_reason(sqlite_url, tmp_path):
    async with (
        FakeTelegram() as fake,
        running_desk(sqlite_url, **_env(tmp_path)) as server,
        signed_in(server, "alice") as alice,
        ChannelHarness(fake, sqlite_url, tmp_path),
    ):
        fake.refuse(CHAT)  # 403 Forbidden: bot was blocked by the user
        case = _telegram_case(server)
        assert (await act(alice, server, case.id, "reply", text="Are you still there?")).status == 200
        await until(lambda: _states(server, case.id) == ["failed"], WAIT_SECONDS)
        [(text, delivery)] = (await _shown(alice, case.id))[1:]
        assert text == "Are you still there?" and delivery["state"] == "failed"
        assert "blocked by the user" in delivery["error"]
        assert len(fake.calls_to("sendMessage", CHAT)) == 1  # a refusal is final: not retried


async def test_quick_replies_arrive_in_order_even_when_the_first_must_be_retried(sqlite_url, tmp_path):
    async with (
        FakeTelegram() as fake,
        running_desk(sqlite_url, **_env(tmp_path)) as server,
        signed_in(server, "alice") as alice,
        ChannelHarness(fake, sqlite_url, tmp_path),
    ):
        fake.rate_limit(retry_after=1, chat_id=CHAT)  # the first send is answered 429: retried after 1 s
        case = _telegram_case(server)
        for text in ("one", "two", "three"):
            assert (await act(alice, server, case.id, "reply", text=text)).status == 200
        await fake.wait_for("sendMessage", 1, CHAT)
        assert _states(server, case.id) == ["queued"] * 3  # a 429 is not a failure
        await until(lambda: _states(server, case.id) == ["sent"] * 3, WAIT_SECONDS)
        assert fake.sent_texts(CHAT) == ["one", "one", "two", "three"]  # the retry went before the others


async def test_the_channel_sends_no_file_from_outside_the_attachment_directory(sqlite_url, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for customers")
    async with FakeTelegram() as fake, ChannelHarness(fake, sqlite_url, tmp_path) as channel:
        outbox = Outbox(channel.engine, Instance(channel.engine, "desk:test"))
        body = {"kind": "document", "path": "../secret.txt", "filename": "secret.txt"}
        outbox.add(CHAT, None, [body], origin="agent", reference="1")
        await until(lambda: [r["status"] for r in outbox.rows(CHAT)] == ["failed"], WAIT_SECONDS)
        assert "outside the attachment directory" in outbox.rows(CHAT)[0]["error"]
        assert fake.calls_to("sendDocument") == []
