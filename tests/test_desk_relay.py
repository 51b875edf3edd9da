"""The relay: an agent's words reach REST and X customers through their own channel, and are
queued with their transcript line for Telegram customers."""

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.cases.database import make_engine
from bot.cases.instances import Instance
from bot.cases.store import CaseStore
from bot.desk.relay import CustomerRelay, RelayUnavailable, x_user_id
from bot.desk.telegram_replies import DELIVERED, QUEUED, TelegramReplies, telegram_chat_id
from bot.desk.texts import RESOLVED, CustomerTexts, MissingResponse
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import MAX_TEXT
from connectors.telegram.storage import Outbox
from connectors.twitter.sender import XSender
from connectors.twitter.settings import XCredentials, XSettings
from tests.auxil.fake_x import DM_SEND, MEDIA, FakeX


def _x_settings() -> XSettings:
    return XSettings(
        credentials=XCredentials("app-bearer", "ck", "cs", "at", "ats"), account_id="1000", account_handle="Support"
    )


def _case(store: CaseStore, channel: str, sender_id: str):
    return store.open_case(
        intent="withdrawal_stuck", priority=2, channel=channel, sender_id=sender_id, summary="stuck", details={}
    )


def test_conversation_keys():
    assert telegram_chat_id("tg:-100200:42") == -100200
    assert x_user_id("x:2001") == "2001"
    with pytest.raises(ValueError):
        telegram_chat_id("x:2001")
    with pytest.raises(ValueError):
        x_user_id("tg:1:1")


async def test_x_customer_gets_a_direct_message_and_a_refused_dm_is_not_recorded(sqlite_url, tmp_path):
    store = CaseStore(make_engine(sqlite_url))
    fake = FakeX()
    await fake.start()
    x = XSender(_x_settings(), session=fake.session())
    try:
        relay = CustomerRelay(store, RestMailbox(store.engine), TelegramReplies(store, tmp_path), x)
        case = _case(store, "twitter", "x:2001")
        assert await relay.send(case, "We are checking your withdrawal.", author="alice") == "sent"
        assert fake.sent_dms("2001") == ["We are checking your withdrawal."]
        assert relay.deliveries(case, store.transcript(case.id)) == [DELIVERED]
        fake.disabled.add(DM_SEND)
        with pytest.raises(RelayUnavailable):
            await relay.send(case, "second try", author="alice")
        assert [(t.role, t.text) for t in store.transcript(case.id)] == [("agent", "We are checking your withdrawal.")]
    finally:
        await x.close()
        await fake.close()
        store.engine.dispose()


async def test_a_telegram_customers_message_is_queued_with_its_line_or_not_at_all(sqlite_url, tmp_path):
    store = CaseStore(make_engine(sqlite_url))
    relay = CustomerRelay(store, RestMailbox(store.engine), TelegramReplies(store, tmp_path))
    outbox = Outbox(store.engine, Instance(store.engine, "desk:test"))
    case = _case(store, "telegram", "tg:5151:5151")
    long_text = "word " * (MAX_TEXT // 4)
    assert await relay.send(case, "Hello <b>there</b>", author="alice") == QUEUED
    assert await relay.send(case, long_text, author="alice") == QUEUED
    lines = store.transcript(case.id)
    assert [(line.role, line.text) for line in lines] == [("agent", "Hello <b>there</b>"), ("agent", long_text)]
    short, long = (str(line.id) for line in lines)
    rows = outbox.rows(5151)
    assert [(r["reference"], r["origin"], r["status"]) for r in rows] == [
        (short, "agent", "pending"),
        (long, "agent", "pending"),  # the long one cut to Telegram's size
        (long, "agent", "pending"),
    ]
    assert rows[0]["body"] == {"kind": "text", "text": "Hello <b>there</b>"}  # escaped when sent, never markup
    assert [d.state if d else None for d in relay.deliveries(case, lines)] == ["queued", "queued"]

    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE telegram_replies"))  # the outbox cannot take the row
    with pytest.raises(OperationalError, match="telegram_replies"):
        await relay.send(case, "lost?", author="alice")
    assert len(store.transcript(case.id)) == 2  # nor is the line kept: both or neither
    with pytest.raises(RelayUnavailable, match="X credentials"):
        await relay.send(_case(store, "twitter", "x:2002"), "hi", author="alice")
    store.engine.dispose()


async def test_x_customer_who_only_wrote_in_public_gets_a_public_invite_without_the_agents_words(
    sqlite_url, tmp_path
):
    store = CaseStore(make_engine(sqlite_url))
    fake = FakeX()
    await fake.start()
    x = XSender(_x_settings(), session=fake.session())
    try:
        relay = CustomerRelay(
            store, RestMailbox(store.engine), TelegramReplies(store, tmp_path), x, x_dm_link="https://x.example/dm"
        )
        case = store.open_case(
            intent="suspected_theft",
            priority=1,
            channel="twitter",
            sender_id="x:2003",
            summary="Public post on X: hacked",
            details={"source": "x_mention", "tweet_id": "777"},
        )
        fake.disabled.add(DM_SEND)
        with pytest.raises(RelayUnavailable, match="public reply invited"):
            await relay.send(case, "Your account 12345 was drained to bc1q...", author="alice")
        posts = fake.replies()
        assert len(posts) == 1
        assert posts[0]["reply"]["in_reply_to_tweet_id"] == "777"
        assert "https://x.example/dm" in posts[0]["text"] and "12345" not in posts[0]["text"]
        assert [t.role for t in store.transcript(case.id)] == ["bot"]
    finally:
        await x.close()
        await fake.close()
        store.engine.dispose()


async def test_x_customer_gets_an_image_in_a_dm_and_a_pdf_is_refused_before_any_upload(sqlite_url, tmp_path):
    store = CaseStore(make_engine(sqlite_url))
    fake = FakeX()
    await fake.start()
    x = XSender(dataclasses.replace(_x_settings(), backoff_seconds=0.01), session=fake.session())
    try:
        relay = CustomerRelay(store, RestMailbox(store.engine), TelegramReplies(store, tmp_path), x)
        case = _case(store, "twitter", "x:2004")
        image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 9000  # 2.3 MB: three upload chunks
        await relay.send_file(case, "how-to-reset-2fa.png", image, mime_type="image/png", author="alice")
        assert fake.sent_dm_images("2004") == [image]
        assert fake.sent_dms("2004") == ["how-to-reset-2fa.png"]
        appends = [r for r in fake.calls(MEDIA) if r.path.endswith("/append")]
        assert [r.json["segment_index"] for r in appends] == [0, 1, 2]
        assert all(r.headers["Authorization"].startswith("OAuth ") for r in fake.calls(MEDIA))
        with pytest.raises(RelayUnavailable, match="images only"):
            await relay.send_file(case, "statement.pdf", b"%PDF-1.4", mime_type="application/pdf", author="alice")
        assert len(fake.calls(MEDIA)) == 5  # initialize, three appends, finalize: nothing for the PDF
        assert [(a["kind"], a["name"]) for a in store.attachments(case.id)] == [("agent_file", "how-to-reset-2fa.png")]
        assert [t.text for t in store.transcript(case.id)] == ["[file] how-to-reset-2fa.png"]
        fake.fail(DM_SEND, *[503] * _x_settings().max_attempts)
        with pytest.raises(RelayUnavailable, match="X did not take the message"):
            await relay.send(case, "are you there?", author="alice")
        assert len(store.transcript(case.id)) == 1  # a message X never took is not shown as said
    finally:
        await x.close()
        await fake.close()
        store.engine.dispose()


def test_desk_texts_come_from_the_domain_and_a_missing_one_fails_at_start(tmp_path):
    texts = CustomerTexts.load()
    assert all("{case_id}" in texts.responses[RESOLVED][language] for language in ("en", "ko", "zh"))
    assert texts.render(RESOLVED, "ko", case_id="CX-7K3M9Q").startswith("문의 CX-7K3M9Q 건이 해결되었습니다")
    assert texts.render(RESOLVED, "xx", case_id="CX-7K3M9Q").startswith("Your case CX-7K3M9Q has been resolved")
    broken = tmp_path / "domain.yml"
    broken.write_text("responses:\n  utter_case_resolved_rate:\n  - text: done {case_id}\n")
    with pytest.raises(MissingResponse, match="utter_no_agents_on_duty"):
        CustomerTexts.load(broken)
