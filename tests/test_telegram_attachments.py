"""Photos and PDF/JPG/PNG documents become attachments of the customer's open case."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.cases.deliveries import DeliveryLedger
from bot.cases.instances import Instance
from bot.cases.schema import outbox
from bot.desk.alerts import alert_text
from bot.desk.destinations import Webhook, update_line
from connectors.telegram.storage import Inbox
from tests.auxil.desk_webhook_receiver import WebhookReceiver
from tests.auxil.fake_telegram import FakeTelegram, private_message
from tests.auxil.telegram_harness import ChannelHarness, domain_texts

CHAT = 5151
SENDER = f"tg:{CHAT}:{CHAT}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def harness(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> AsyncIterator[ChannelHarness]:
    env = {"TELEGRAM_MAX_ATTACHMENT_BYTES": "1000"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as running:
        yield running


def open_case(harness: ChannelHarness) -> str:
    case = harness.store.open_case(
        intent="deposit_missing", priority=2, channel="telegram", sender_id=SENDER, summary="deposit", details={}
    )
    return case.id


async def send(harness: ChannelHarness, update_id: int, **message: Any) -> None:
    status, _ = await harness.post({"update_id": update_id, "message": private_message(CHAT, **message)})
    assert status == 200
    await harness.idle()


def document(file_id: str, name: str, mime: str, size: int) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "file_name": name,
        "mime_type": mime,
        "file_size": size,
    }


async def test_photo_is_downloaded_and_attached(harness: ChannelHarness, fake: FakeTelegram) -> None:
    case_id = open_case(harness)
    small = {"file_id": "p-small", "file_unique_id": "ps", "width": 90, "height": 90, "file_size": 5}
    fake.add_file(b"\xff\xd8 big jpeg", "photos/file_7.jpg", file_id="p-big")
    big = {"file_id": "p-big", "file_unique_id": "pb", "width": 800, "height": 600, "file_size": 11}
    await send(harness, 1, photo=[small, big])
    [attachment] = harness.store.attachments(case_id)
    assert attachment["kind"] == "photo" and attachment["platform_file_id"] == "p-big"
    assert attachment["mime_type"] == "image/jpeg" and attachment["size"] == 11
    assert Path(attachment["stored_path"]).read_bytes() == b"\xff\xd8 big jpeg"
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_received")
    assert harness.received == []


@pytest.mark.parametrize(
    ("name", "mime"),
    [("statement.pdf", "application/pdf"), ("shot.png", "image/png"), ("scan.JPG", "application/octet-stream")],
)
async def test_pdf_png_jpg_documents_are_attached(
    harness: ChannelHarness, fake: FakeTelegram, name: str, mime: str
) -> None:
    case_id = open_case(harness)
    fake.add_file(b"content", f"documents/{name}", file_id="d1")
    await send(harness, 2, document=document("d1", name, mime, 7))
    [attachment] = harness.store.attachments(case_id)
    assert attachment["name"] == name and attachment["kind"] == "document" and attachment["size"] == 7
    assert Path(attachment["stored_path"]).parent.name == case_id
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_received")


async def test_other_file_types_are_refused_without_download(harness: ChannelHarness, fake: FakeTelegram) -> None:
    case_id = open_case(harness)
    fake.add_file(b"MZ", "documents/tool.exe", file_id="x1")
    await send(harness, 3, document=document("x1", "tool.exe", "application/x-msdownload", 2))
    assert harness.store.attachments(case_id) == []
    assert fake.calls_to("getFile") == []
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_unsupported")


@pytest.mark.parametrize("declared_size", [5000, None])
async def test_files_over_the_limit_are_refused(
    harness: ChannelHarness, fake: FakeTelegram, declared_size: int | None
) -> None:
    case_id = open_case(harness)
    fake.add_file(b"x" * 5000, "documents/huge.pdf", file_id="h1")
    info = document("h1", "huge.pdf", "application/pdf", 0)
    if declared_size is None:
        del info["file_size"]  # only getFile tells the size
    else:
        info["file_size"] = declared_size
    await send(harness, 4, document=info)
    assert harness.store.attachments(case_id) == []
    assert fake.calls_to("download") == []
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_too_large")


async def test_a_file_telegram_will_not_serve_is_answered_and_the_chat_goes_on(
    harness: ChannelHarness, fake: FakeTelegram
) -> None:
    """``getFile`` refusing a file is final: before, its turn was retried as a network error for good
    (PTB makes ``BadRequest`` one) and every later message of the chat waited behind it."""
    case_id = open_case(harness)
    gone = {"file_id": "no-longer-served", "file_unique_id": "g", "width": 90, "height": 90}
    await send(harness, 6, photo=[gone])  # getFile: "invalid file_id"
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_not_handled")
    fake.refuse(method="getFile", code=400, description="Bad Request: file is too big")  # getFile serves 20 MB
    photo = {"file_id": "over-20mb", "file_unique_id": "o", "width": 4000, "height": 3000}  # no file_size
    await send(harness, 7, photo=[photo])
    assert fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_too_large")
    await send(harness, 8, text="hello? did you get my screenshot?")
    assert harness.texts()[-1] == "hello? did you get my screenshot?"
    inbox = Inbox(harness.engine, Instance(harness.engine, "reader"))
    assert [inbox.row(u)["status"] for u in (6, 7, 8)] == ["failed", "done", "done"]
    assert "invalid file_id" in str(inbox.row(6)["error"]).lower()
    assert harness.store.attachments(case_id) == []


async def test_without_an_open_case_nothing_is_kept_and_the_customer_is_told(
    harness: ChannelHarness, fake: FakeTelegram, tmp_path: Path
) -> None:
    fake.add_file(b"%PDF", "documents/a.pdf", file_id="n1")
    await send(harness, 5, document=document("n1", "a.pdf", "application/pdf", 4))
    assert fake.calls_to("getFile") == []
    assert not (tmp_path / "attachments").exists()
    assert fake.sent_texts(CHAT) and fake.sent_texts(CHAT)[-1] in domain_texts("utter_attachment_no_case")


async def test_caption_reaches_the_bot_after_the_attachment(harness: ChannelHarness, fake: FakeTelegram) -> None:
    case_id = open_case(harness)
    fake.add_file(b"%PDF", "documents/r.pdf", file_id="c1")
    await send(harness, 6, document=document("c1", "r.pdf", "application/pdf", 4), caption="this is the receipt")
    assert len(harness.store.attachments(case_id)) == 1
    assert [m.text for m in harness.received] == ["this is the receipt"]
    transcript = [line.text for line in harness.store.transcript(case_id)]
    assert "this is the receipt" in transcript


@pytest.mark.parametrize(
    ("name", "secret", "kept"),
    [
        ("my_password_Hunter2!x.pdf", "Hunter2!x", "my_password_[REDACTED].pdf"),
        (
            "abandon_amount_liar_amount_expire_adjust_cage_candy_arch_gather_drum_buyer.png",
            "liar_amount_expire",
            "[REDACTED].png",
        ),
    ],
)
async def test_a_secret_in_a_file_name_never_reaches_storage_alerts_or_the_webhook(
    harness: ChannelHarness, fake: FakeTelegram, name: str, secret: str, kept: str
) -> None:
    case_id = open_case(harness)
    fake.add_file(b"%PDF", "documents/s.pdf", file_id="s1")
    await send(harness, 7, document=document("s1", name, "application/pdf", 4))
    [attachment] = harness.store.attachments(case_id)
    assert attachment["name"] == kept and secret not in attachment["stored_path"]
    *_, reply = fake.sent_texts(CHAT)  # the turn's replies, as one message
    assert any(reply.startswith(w) for w in domain_texts("utter_secret_redacted")), "told to rotate the secret first"
    assert any(reply.endswith(r) for r in domain_texts("utter_attachment_received"))

    with harness.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event, outbox.c.payload).where(outbox.c.case_id == case_id)).all()
    case = harness.store.get(case_id)
    alerts = [alert_text(case, harness.store.attachments(case_id))]
    alerts += [update_line(case, event, payload) or "" for event, payload in events]
    assert any(kept in alert for alert in alerts) and not any(secret in alert for alert in alerts)

    ledger = DeliveryLedger(harness.engine)
    ledger.plan(["webhook"])
    async with WebhookReceiver("hook-secret") as receiver, aiohttp.ClientSession() as session:
        webhook = Webhook(session, receiver.url, "hook-secret", harness.store)
        while due := ledger.claim_due("webhook"):
            for delivery in due:
                await webhook.deliver(delivery)
                ledger.delivered([delivery])
    bodies = json.dumps(receiver.accepted)
    assert [a["event"] for a in receiver.accepted] == ["case_opened", "attachment_added"]
    assert kept in bodies and secret not in bodies
