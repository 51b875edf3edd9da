"""The relay: an agent's words reach REST, Telegram and X customers through their own channel."""

import pytest

from bot.cases.database import make_engine
from bot.cases.store import CaseStore
from bot.desk.relay import CustomerRelay, RelayUnavailable, telegram_chat_id, x_user_id
from bot.desk.texts import RESOLVED, CustomerTexts, MissingResponse
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.sender import TelegramSender
from connectors.twitter.sender import XSender
from connectors.twitter.settings import XCredentials, XSettings
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.fake_x import DM_SEND, FakeX


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


async def test_x_customer_gets_a_direct_message_and_a_refused_dm_is_not_recorded(sqlite_url):
    store = CaseStore(make_engine(sqlite_url))
    fake = FakeX()
    await fake.start()
    x = XSender(_x_settings(), session=fake.session())
    try:
        relay = CustomerRelay(store, RestMailbox(store.engine), None, x)
        case = _case(store, "twitter", "x:2001")
        await relay.send(case, "We are checking your withdrawal.", author="alice")
        assert fake.sent_dms("2001") == ["We are checking your withdrawal."]
        fake.disabled.add(DM_SEND)
        with pytest.raises(RelayUnavailable):
            await relay.send(case, "second try", author="alice")
        assert [(t.role, t.text) for t in store.transcript(case.id)] == [("agent", "We are checking your withdrawal.")]
    finally:
        await x.close()
        await fake.close()
        store.engine.dispose()


async def test_telegram_customer_gets_the_customer_bot_message_and_unconfigured_channels_refuse(sqlite_url):
    store = CaseStore(make_engine(sqlite_url))
    async with FakeTelegram() as fake:
        sender = TelegramSender.create("222:customers", base_url=fake.base_url)
        async with sender:
            relay = CustomerRelay(store, RestMailbox(store.engine), sender)
            case = _case(store, "telegram", "tg:5151:5151")
            await relay.send(case, "Hello <b>there</b>", author="alice")
            assert fake.sent_texts(5151) == ["Hello &lt;b&gt;there&lt;/b&gt;"]  # agents' text is never markup
            with pytest.raises(RelayUnavailable):
                await relay.send(_case(store, "twitter", "x:2002"), "hi", author="alice")
        bare = CustomerRelay(store, RestMailbox(store.engine), None)
        with pytest.raises(RelayUnavailable):
            await bare.send(case, "hi", author="alice")
    store.engine.dispose()


async def test_x_customer_who_only_wrote_in_public_gets_a_public_invite_without_the_agents_words(sqlite_url):
    store = CaseStore(make_engine(sqlite_url))
    fake = FakeX()
    await fake.start()
    x = XSender(_x_settings(), session=fake.session())
    try:
        relay = CustomerRelay(store, RestMailbox(store.engine), None, x, x_dm_link="https://x.example/dm")
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


def test_desk_texts_come_from_the_domain_and_a_missing_one_fails_at_start(tmp_path):
    texts = CustomerTexts.load()
    assert "{case_id}" in texts.responses[RESOLVED]
    broken = tmp_path / "domain.yml"
    broken.write_text("responses:\n  utter_case_resolved_rate:\n  - text: done {case_id}\n")
    with pytest.raises(MissingResponse, match="utter_no_agents_on_duty"):
        CustomerTexts.load(broken)
