"""XSender: real tweepy AsyncClient against the fake X API over TLS."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest

from connectors.twitter.sender import XFeatureDisabled, XSender, XUnavailable
from connectors.twitter.settings import XCredentials, XSettings
from tests.auxil.fake_x import DM_EVENTS, DM_SEND, MENTIONS, TWEETS, FakeX


class FakeTime:
    """A clock that the sender's waits advance, so rate-limit waits take no real time."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def x_settings(**overrides) -> XSettings:
    values = {
        "credentials": XCredentials("app-bearer", "ck", "cs", "at", "ats"),
        "account_id": "1000",
        "account_handle": "ExampleSupport",
        "page_size": 5,
        "mentions_per_window": 900,
        "dm_events_per_window": 900,
    }
    values.update(overrides)
    return XSettings(**values)


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    server = FakeX()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def sender(fake_x: FakeX, fake_time: FakeTime) -> AsyncIterator[XSender]:
    session = fake_x.session()
    client = XSender(x_settings(), session=session, sleep=fake_time.sleep, clock=fake_time.clock)
    yield client
    await client.close()
    await session.close()


async def test_mentions_page_has_authors_and_next_token(fake_x: FakeX, sender: XSender) -> None:
    ids = [fake_x.mention(f"@ExampleSupport help {n}", author_id=str(3000 + n), username=f"user{n}") for n in range(7)]
    page = await sender.mentions("1000", since_id=None)
    assert [m.id for m in page.mentions] == ids[::-1][:5]
    assert page.mentions[0].author_username == "user6"
    assert page.mentions[0].conversation_id == ids[6]
    assert page.newest_id == ids[6] and page.next_token
    second = await sender.mentions("1000", since_id=None, pagination_token=page.next_token)
    assert [m.id for m in second.mentions] == ids[1::-1] and second.next_token is None
    call = fake_x.calls(MENTIONS)[0]
    assert call.headers["Authorization"] == "Bearer app-bearer"
    assert call.query["expansions"] == "author_id"
    assert call.query["tweet.fields"] == "conversation_id,author_id,referenced_tweets,created_at"


async def test_since_id_and_retweets(fake_x: FakeX, sender: XSender) -> None:
    old = fake_x.mention("@ExampleSupport old")
    rt = fake_x.mention("RT @ExampleSupport news", retweet_of="42")
    page = await sender.mentions("1000", since_id=old)
    assert [m.id for m in page.mentions] == [rt] and page.mentions[0].is_retweet
    assert fake_x.calls(MENTIONS)[0].query["since_id"] == old


async def test_reply_and_dm_use_user_context(fake_x: FakeX, sender: XSender) -> None:
    post_id = await sender.reply("77", "Thanks, please DM us")
    assert fake_x.posts == [{"id": post_id, "text": "Thanks, please DM us", "reply": {"in_reply_to_tweet_id": "77"}}]
    event_id = await sender.send_dm("2001", "Hello from support")
    assert fake_x.dm_events[-1]["id"] == event_id
    (post,) = fake_x.calls(TWEETS)
    (dm,) = fake_x.calls(DM_SEND)
    assert (
        post.headers["Authorization"].startswith("OAuth ")
        and 'oauth_consumer_key="ck"' in post.headers["Authorization"]
    )
    assert dm.path == "/2/dm_conversations/with/2001/messages" and dm.json == {"text": "Hello from support"}
    page = await sender.dm_events()
    assert page.events[0].text == "Hello from support" and page.events[0].sender_id == "1000"
    assert fake_x.calls(DM_EVENTS)[0].query["event_types"] == "MessageCreate"


async def test_429_waits_until_reset_then_recovers(fake_x: FakeX, sender: XSender, fake_time: FakeTime) -> None:
    fake_x.mention("@ExampleSupport hi")
    fake_x.fail(MENTIONS, 429, reset_in=120)
    page = await sender.mentions("1000")
    assert len(page.mentions) == 1
    assert len(fake_x.calls(MENTIONS)) == 2
    assert any(110 <= s <= 125 for s in fake_time.sleeps)


async def test_5xx_backs_off_exponentially(fake_x: FakeX, sender: XSender, fake_time: FakeTime) -> None:
    fake_x.fail(TWEETS, 503, 503)
    await sender.reply("1", "ok")
    assert fake_time.sleeps[:2] == [2.0, 4.0]
    assert len(fake_x.calls(TWEETS)) == 3


async def test_5xx_gives_up_after_max_attempts(fake_x: FakeX, sender: XSender) -> None:
    fake_x.fail(TWEETS, *([500] * 5))
    with pytest.raises(XUnavailable):
        await sender.reply("1", "ok")
    assert len(fake_x.calls(TWEETS)) == 5


async def test_slows_down_before_the_limit(fake_x: FakeX, sender: XSender, fake_time: FakeTime) -> None:
    fake_x.remaining[MENTIONS] = 2  # this call leaves 1: the reserve
    await sender.mentions("1000")
    fake_time.sleeps.clear()
    await sender.mentions("1000")
    assert fake_time.sleeps and fake_time.sleeps[0] > 800


async def test_plan_without_dm_read_disables_only_that(
    fake_x: FakeX, sender: XSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake_x.disabled.add(DM_EVENTS)
    with caplog.at_level(logging.ERROR, logger="connectors.twitter.sender"):
        with pytest.raises(XFeatureDisabled):
            await sender.dm_events()
        with pytest.raises(XFeatureDisabled):
            await sender.dm_events()
    assert len(fake_x.calls(DM_EVENTS)) == 1
    assert len([r for r in caplog.records if "plan has no access to dm_events" in r.getMessage()]) == 1
    assert not sender.available(DM_EVENTS)
    assert (await sender.mentions("1000")).mentions == ()


async def test_network_errors_back_off_then_give_up(fake_time: FakeTime) -> None:
    server = FakeX()
    await server.start()
    session = server.session()
    await server.close()  # nothing listens any more
    client = XSender(x_settings(max_attempts=3), session=session, sleep=fake_time.sleep, clock=fake_time.clock)
    try:
        with pytest.raises(XUnavailable):
            await client.send_dm("2001", "hi")
        assert fake_time.sleeps == [2.0, 4.0]
    finally:
        await session.close()
