"""The X channel end to end: real tweepy against the fake X API over TLS, a real case store,
and a Rasa boundary (a recorder ``on_new_message`` that replies through the output channel)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st
from sanic import Sanic
from sqlalchemy import select

from bot.cases.database import make_engine
from bot.cases.leases import LeaderLease
from bot.cases.redaction import redact
from bot.cases.schema import outbox
from connectors.twitter import TwitterInput
from connectors.twitter.poller import snowflake_at
from connectors.twitter.public import MAX_WEIGHTED_LENGTH, personal_data, weighted_length
from connectors.twitter.settings import XCredentials
from connectors.twitter.webhook import SIGNATURE_HEADER as SIGNATURE
from connectors.twitter.webhook import crc_token_valid
from tests.auxil.fake_x import DM_EVENTS, MENTIONS, TWEETS, FakeX
from tests.auxil.fuzzing import FUZZ, bodies, texts, x_deliveries
from tests.auxil.threads import LoopSpy
from tests.auxil.waiting import until
from tests.auxil.x_world import ACCOUNT, DM_LINK, RecorderBot, Served, World, signature, x_settings

SEED = "abandon ability able about above absent absorb abstract absurd abuse access accident"
WAIT_SECONDS = 10.0  # how long each wait may take


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic rewrites its own functions on the first server start; test mode lets it start twice."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    server = FakeX(account_id=ACCOUNT)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def session(fake_x: FakeX) -> AsyncIterator[aiohttp.ClientSession]:
    client = fake_x.session()
    yield client
    await client.close()


@pytest.fixture
async def world(fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str) -> AsyncIterator[World]:
    created = World(fake_x, session, sqlite_url)
    yield created
    await created.close()


def assert_public_posts_safe(fake: FakeX) -> None:
    for post in fake.posts:
        assert weighted_length(post["text"]) <= MAX_WEIGHTED_LENGTH
        assert DM_LINK in post["text"]
        assert personal_data(post["text"].replace(DM_LINK, "")) == ()


async def test_mention_invites_to_dm_and_the_dm_runs_the_assistant(world: World, fake_x: FakeX) -> None:
    mention = fake_x.mention(
        "@ExampleSupport my withdrawal is stuck, email me at alice.w@example.org", author_id="2001"
    )
    await world.poll()
    (post,) = fake_x.posts
    assert post["reply"] == {"in_reply_to_tweet_id": mention}
    assert "alice.w@example.org" not in post["text"] and "2001" not in post["text"]
    assert_public_posts_safe(fake_x)
    assert world.bot.messages == []  # the dialogue never runs in public
    assert world.store.active_case("twitter", "x:2001") is None  # P2: no alert from a public post

    fake_x.dm("2001", "Hi, I need help")
    await world.poll()
    (first,) = world.bot.messages
    assert (first.text, first.sender_id, first.input_channel) == ("Hi, I need help", "x:2001", "twitter")
    (menu,) = fake_x.sent_dms("2001")
    assert "What can I help you with?" in menu
    assert "1. Withdrawal stuck\n2. Deposit missing" in menu
    assert any(v in menu for v in world.texts("utter_x_reply_with_number", count=2))

    fake_x.dm("2001", "1")
    await world.poll()
    assert [m.text for m in world.bot.messages] == ["Hi, I need help", "/withdrawal_stuck"]
    assert fake_x.sent_dms("2001")[-1] == "Which coin did you withdraw?"
    await world.poll()  # our own DMs come back in dm_events and are not fed to Rasa
    assert len(world.bot.messages) == 2 and len(fake_x.posts) == 1


async def test_p1_mention_alerts_agents_at_once(world: World, fake_x: FakeX) -> None:
    fake_x.mention("@ExampleSupport my account was hacked and all my BTC is gone!!", author_id="2002")
    await world.poll()
    case = world.store.active_case("twitter", "x:2002")
    assert case is not None and case.priority == 1 and case.intent == "suspected_theft"
    with world.store.engine.connect() as conn:
        events = conn.execute(select(outbox.c.event).where(outbox.c.case_id == case.id)).scalars().all()
    assert events == ["case_opened"]
    (post,) = fake_x.posts
    assert post["text"] in world.texts("utter_x_public_reply_p1")
    assert_public_posts_safe(fake_x)

    fake_x.dm("2002", "hello")  # the DM conversation joins the open case
    await world.poll()
    assert ("customer", "hello") in [(line.role, line.text) for line in world.store.transcript(case.id)]


async def test_leaked_seed_phrase_gets_a_warning_that_does_not_repeat_it(
    world: World, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = LoopSpy(redact)
    monkeypatch.setattr("connectors.twitter.conversations.redact", spy)
    fake_x.mention(f"@ExampleSupport my wallet is empty?? my words are {SEED}", author_id="2003")
    await world.poll()
    assert spy.on_loop == [False]  # redacted in a thread
    (post,) = fake_x.posts
    assert post["text"] in world.texts("utter_x_public_leak_warning")
    words = SEED.split()
    assert not any(" ".join(words[i : i + 2]) in post["text"] for i in range(len(words) - 1))
    assert all(SEED.split()[0] not in r.body.decode() for r in fake_x.requests if r.method == "POST")
    assert not any(SEED in text for text in world.agent.parsed)  # the NLU saw only the redacted text
    assert_public_posts_safe(fake_x)


async def test_burst_across_pages_answered_once_each(world: World, fake_x: FakeX) -> None:
    ids = [fake_x.mention(f"@ExampleSupport fee question {n}", author_id=str(3000 + n)) for n in range(12)]
    fake_x.mention("@ExampleSupport our own post", author_id=ACCOUNT)
    fake_x.mention("RT @ExampleSupport maintenance tonight", author_id="3999", retweet_of=ids[0])
    await world.poll()
    assert len(fake_x.calls(MENTIONS)) == 3  # 14 mentions, 5 per page
    assert sorted(p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts) == sorted(ids)
    await world.poll()
    assert len(fake_x.posts) == 12
    assert_public_posts_safe(fake_x)


async def test_second_post_in_an_answered_thread_is_not_answered_again(world: World, fake_x: FakeX) -> None:
    first = fake_x.mention("@ExampleSupport deposit question", author_id="2004")
    await world.poll()
    fake_x.tweets.append(
        {**fake_x.tweets[-1], "id": fake_x._id(), "conversation_id": first, "text": "@ExampleSupport hi?"}
    )
    await world.poll()
    assert len(fake_x.posts) == 1


async def test_429_waits_for_the_reset_then_recovers(world: World, fake_x: FakeX) -> None:
    mention = fake_x.mention("@ExampleSupport deposit missing", author_id="2005")
    fake_x.fail(MENTIONS, 429, reset_in=0)
    await world.poll()
    assert len(fake_x.calls(MENTIONS)) == 2
    assert [p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts] == [mention]


async def test_plan_without_dm_access_keeps_mentions_working(
    world: World, fake_x: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    fake_x.disabled.add(DM_EVENTS)
    with caplog.at_level(logging.ERROR):
        fake_x.mention("@ExampleSupport withdrawal stuck", author_id="2006")
        await world.poll()
        fake_x.mention("@ExampleSupport deposit missing", author_id="2007")
        await world.poll()
    assert len(fake_x.posts) == 2
    assert len(fake_x.calls(DM_EVENTS)) == 1
    assert len([r for r in caplog.records if "no access to dm_events" in r.getMessage()]) == 1


async def test_restart_neither_misses_nor_repeats(
    fake_x: FakeX, session: aiohttp.ClientSession, database_url: str
) -> None:
    first = World(fake_x, session, database_url)
    a = fake_x.mention("@ExampleSupport withdrawal stuck", author_id="2010")
    fake_x.dm("2010", "hello")
    await first.poll()
    await first.close()

    b = fake_x.mention("@ExampleSupport deposit missing", author_id="2011")  # arrives while down
    fake_x.dm("2011", "hi there")
    second = World(fake_x, session, database_url)
    try:
        await second.poll()
    finally:
        await second.close()
    assert [p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts] == [a, b]
    assert fake_x.calls(MENTIONS)[-1].query["since_id"] == a
    assert [m.text for m in first.bot.messages] == ["hello"]
    assert [m.text for m in second.bot.messages] == ["hi there"]


async def test_only_one_process_holds_the_poller_lease(database_url: str) -> None:
    engine = make_engine(database_url)
    one, two = LeaderLease(engine, "x_poller", 60), LeaderLease(engine, "x_poller", 60)
    assert one.acquire() and not two.acquire()
    assert one.acquire()  # renewal
    one.release()
    assert two.acquire() and not one.acquire()


# -- webhook mode, through Rasa's web server (Sanic) -----------------------------------------


@pytest.fixture
async def webhook_world(fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str) -> AsyncIterator[World]:
    created = World(fake_x, session, sqlite_url, mode="webhook")
    yield created
    await created.close()


async def test_crc_and_signed_deliveries(webhook_world: World, fake_x: FakeX) -> None:
    dm = {
        "for_user_id": ACCOUNT,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": fake_x._id(),
                "created_timestamp": "1700000000000",
                "message_create": {
                    "target": {"recipient_id": ACCOUNT},
                    "sender_id": "2020",
                    "message_data": {"text": "help please", "entities": {}},
                },
            }
        ],
    }
    body = json.dumps(dm).encode()
    async with Served(webhook_world) as served, aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/webhook", params={"crc_token": "challenge-123"}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"response_token": signature(b"challenge-123")}
        for headers in ({}, {"x-twitter-webhooks-signature": signature(body, "wrong-secret")}):
            async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:
                assert resp.status == 403
        assert webhook_world.bot.messages == []
        bad = b"{not json"
        async with http.post(
            f"{served.base}/webhook", data=bad, headers={"x-twitter-webhooks-signature": signature(bad)}
        ) as resp:
            assert resp.status == 400
        for _ in range(2):  # X may deliver twice
            async with http.post(
                f"{served.base}/webhook", data=body, headers={"x-twitter-webhooks-signature": signature(body)}
            ) as resp:
                assert resp.status == 200
        await until(lambda: fake_x.sent_dms("2020"), WAIT_SECONDS)
        await until(lambda: webhook_world.runtime.inbox.next_due() is None, WAIT_SECONDS)  # nothing left to do
    assert [m.text for m in webhook_world.bot.messages] == ["help please"]
    assert len(fake_x.sent_dms("2020")) == 1
    assert fake_x.calls(MENTIONS) == []  # webhook mode starts no poller


async def test_crc_signs_only_challenge_shaped_tokens(webhook_world: World) -> None:
    forged = json.dumps({"for_user_id": ACCOUNT, "direct_message_events": []})
    async with Served(webhook_world) as served, aiohttp.ClientSession() as http:
        for token in (forged, "", "A" * 129):
            async with http.get(f"{served.base}/webhook", params={"crc_token": token}) as resp:
                assert resp.status == 400
                assert "response_token" not in await resp.json()


async def test_poll_mode_refuses_webhook_deliveries(world: World, fake_x: FakeX) -> None:
    dm = {
        "for_user_id": ACCOUNT,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": fake_x._id(),
                "message_create": {"target": {"recipient_id": ACCOUNT}, "sender_id": "2021", "message_data": {}},
            }
        ],
    }
    body = json.dumps(dm).encode()
    async with Served(world) as served, aiohttp.ClientSession() as http:
        async with http.get(f"{served.base}/webhook", params={"crc_token": "challenge"}) as resp:
            assert resp.status == 403
        headers = {"x-twitter-webhooks-signature": signature(body)}
        async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:
            assert resp.status == 403
    assert world.bot.messages == [] and fake_x.sent_dms("2021") == []


async def test_without_credentials_the_channel_is_idle(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    app = Sanic(f"x-idle-{uuid.uuid4().hex[:8]}")
    channel = TwitterInput(x_settings(credentials=XCredentials("", "", "", "", "")), session_factory=lambda: session)
    app.blueprint(channel.blueprint(RecorderBot()), url_prefix="/webhooks/twitter")
    server = await app.create_server(host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.after_start()
    try:
        base = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}/webhooks/twitter"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/webhook", params={"crc_token": "x"}) as resp:
                assert resp.status == 503
            async with http.post(f"{base}/webhook", data=b"{}") as resp:
                assert resp.status == 503
        assert getattr(app.ctx, "x_runtime", None) is None
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()
    assert fake_x.requests == []


async def test_first_start_skips_mentions_older_than_the_lookback(world: World, fake_x: FakeX) -> None:
    fresh = fake_x.mention("@ExampleSupport deposit missing", author_id="2030")
    old = fake_x.mention("@ExampleSupport deposit missing last week", author_id="2031")
    fake_x.tweets[-1]["id"] = str(int(snowflake_at(time.time() - 3 * 3600)) + 1)
    await world.poll()
    assert [p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts] == [fresh]
    assert old not in {p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts}


async def test_secret_in_a_dm_is_redacted_before_rasa(world: World, fake_x: FakeX) -> None:
    fake_x.dm("2032", f"my withdrawal is stuck, my seed is {SEED}")
    await world.poll()
    (message,) = world.bot.messages
    assert SEED not in message.text and "[REDACTED]" in message.text
    notices = {text.strip().split("\n\n")[0] for text in world.texts("utter_secret_redacted")}
    assert fake_x.sent_dms("2032")[0] in notices  # told to rotate it, before anything else


async def test_conversation_owned_by_an_agent_skips_the_bot(world: World, fake_x: FakeX) -> None:
    case = world.store.open_case(
        intent="withdrawal_stuck", priority=2, channel="twitter", sender_id="x:2033", summary="s", details={}
    )
    assert world.store.claim(case.id, "agent-ann")
    fake_x.dm("2033", "any news on my withdrawal?")
    await world.poll()
    assert world.bot.messages == [] and fake_x.sent_dms("2033") == []
    assert ("customer", "any news on my withdrawal?") in [(m.role, m.text) for m in world.store.transcript(case.id)]


async def test_webhook_mention_gets_the_public_treatment(webhook_world: World, fake_x: FakeX) -> None:
    tweet_id = fake_x._id()
    delivery = {
        "for_user_id": ACCOUNT,
        "tweet_create_events": [
            {
                "id_str": tweet_id,
                "text": "@ExampleSupport my account is locked and I can't log in",
                "user": {"id_str": "2034", "screen_name": "carol"},
            },
            {"id_str": fake_x._id(), "text": "@carol we're on it", "user": {"id_str": ACCOUNT, "screen_name": "x"}},
        ],
    }
    body = json.dumps(delivery).encode()
    async with Served(webhook_world) as served, aiohttp.ClientSession() as http:
        headers = {"x-twitter-webhooks-signature": signature(body)}
        async with http.post(f"{served.base}/webhook", data=body, headers=headers) as resp:
            assert resp.status == 200
        await until(lambda: webhook_world.store.active_case("twitter", "x:2034"), WAIT_SECONDS)
        await until(lambda: webhook_world.runtime.inbox.next_due() is None, WAIT_SECONDS)
    (post,) = fake_x.posts
    assert post["reply"] == {"in_reply_to_tweet_id": tweet_id}
    assert post["text"] in webhook_world.texts("utter_x_public_reply_p1")
    case = webhook_world.store.active_case("twitter", "x:2034")
    assert case is not None and case.priority == 1


async def test_public_txid_gets_the_leak_warning_without_the_hash(world: World, fake_x: FakeX) -> None:
    txid = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    fake_x.mention(f"@ExampleSupport deposit missing, tx {txid}", author_id="2040")
    await world.poll()
    (post,) = fake_x.posts
    assert post["text"] in world.texts("utter_x_public_leak_warning")
    assert txid[:12] not in post["text"]


async def test_plan_that_cannot_post_still_alerts_agents(
    world: World, fake_x: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    fake_x.disabled.add(TWEETS)
    with caplog.at_level(logging.ERROR):
        fake_x.mention("@ExampleSupport I was hacked", author_id="2041")
        fake_x.mention("@ExampleSupport my account is locked", author_id="2042")
        await world.poll()
    assert fake_x.posts == []
    assert world.store.active_case("twitter", "x:2041") is not None
    assert world.store.active_case("twitter", "x:2042") is not None
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    await world.poll()
    assert len(fake_x.calls(TWEETS)) == 1  # answered mentions are not retried


async def test_only_the_lease_holder_polls_and_another_takes_over(
    fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    worlds = [
        World(
            fake_x,
            session,
            sqlite_url,
            poll_seconds=0.05,
            credentials=XCredentials(f"bearer-{n}", "ck", "cs", "a", "s"),
        )
        for n in (1, 2)
    ]
    try:
        for w in worlds:
            w.runtime.start()
        first = fake_x.mention("@ExampleSupport fee question", author_id="2050")
        await until(lambda: len(fake_x.posts) == 1, WAIT_SECONDS)
        await asyncio.sleep(0.3)  # a few more cycles of both pollers
        (holder,) = {c.headers["Authorization"] for c in fake_x.calls(MENTIONS)}
        holding = 0 if holder == "Bearer bearer-1" else 1
        await worlds[holding].close()  # releases the lease
        second = fake_x.mention("@ExampleSupport deposit question", author_id="2051")
        await until(lambda: len(fake_x.posts) == 2, WAIT_SECONDS)
        assert fake_x.calls(MENTIONS)[-1].headers["Authorization"] == f"Bearer bearer-{2 - holding}"
        assert [p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts] == [first, second]
    finally:
        for w in worlds:
            await w.close()


async def test_nothing_is_fetched_until_the_model_is_loaded(world: World, fake_x: FakeX) -> None:
    mention = fake_x.mention("@ExampleSupport deposit missing", author_id="2060")
    world.app.ctx.agent = None
    await world.poll()
    assert fake_x.requests == []
    world.app.ctx.agent = world.agent
    await world.poll()
    assert [p["reply"]["in_reply_to_tweet_id"] for p in fake_x.posts] == [mention]


@pytest.mark.slow
async def test_trained_bot_on_x_p1_mention_in_public_then_a_case_in_direct_messages(
    tmp_path: Path, fake_x: FakeX, session: aiohttp.ClientSession, sqlite_url: str
) -> None:
    """The served model and the action server behind the real channel: what `make run` does with X keys."""
    from rasa.core.agent import Agent

    from bot.runtime.model import ensure_model
    from tests.auxil.rasa_stack import action_endpoint, rasa_stack

    with rasa_stack(tmp_path, sqlite_url, instances=0) as stack:
        agent = Agent.load(ensure_model(), action_endpoint=action_endpoint(stack.actions_url))
        world = World(fake_x, session, sqlite_url, agent=agent)
        try:
            fake_x.mention("@ExampleSupport someone hacked my account and withdrew all my BTC", author_id="2101")
            await world.poll()
            case = world.store.active_case("twitter", "x:2101")
            assert case is not None and (case.intent, case.priority) == ("suspected_theft", 1)
            (post,) = fake_x.posts
            assert post["text"] in world.texts("utter_x_public_reply_p1")
            assert_public_posts_safe(fake_x)

            fake_x.dm("2102", "my ETH withdrawal has been pending for 6 hours")
            await world.poll()
            tracker = await agent.tracker_store.retrieve("x:2102")
            assert tracker is not None and tracker.latest_message.intent["name"] == "withdrawal_stuck"
            replies = fake_x.sent_dms("2102")
            assert replies and not any(r in world.texts("utter_default") for r in replies)
            assert world.store.active_case("twitter", "x:2102") is None  # a P2 is read back before it opens
        finally:
            await world.close()


# -- fuzzing: CRC and deliveries, signed and unsigned, never a 5xx -------------------------


async def test_fuzzed_crc_and_deliveries_never_get_a_5xx(webhook_world: World, fake_x: FakeX, caplog) -> None:
    statuses: set[int] = set()
    async with Served(webhook_world) as served:
        url = f"{served.base}/webhook"

        @FUZZ
        @given(token=st.one_of(texts, st.text(alphabet="ABCxyz019+/=_-", min_size=1, max_size=140)))
        def crc(token: str) -> None:
            response = requests.get(url, params={"crc_token": token}, timeout=10)
            assert response.status_code == 200 or 400 <= response.status_code < 500, token[:80]
            if response.status_code == 200:
                assert crc_token_valid(token) and response.json()["response_token"] == signature(token.encode())

        @FUZZ
        @given(body=bodies(x_deliveries), signed=st.sampled_from(["right", "right", "wrong", "none"]))
        @example(body=b'{"for_user_id": "1000"}', signed="right")  # each answer at least once
        @example(body=b"{", signed="right")
        @example(body=b"{}", signed="none")
        def deliver(body: bytes, signed: str) -> None:
            headers = {"right": {SIGNATURE: signature(body)}, "wrong": {SIGNATURE: signature(body, "x")}, "none": {}}
            status = requests.post(url, data=body, headers=headers[signed], timeout=30).status_code
            statuses.add(status)
            assert status < 500, body[:200]
            assert status == 403 or signed == "right"

        await asyncio.to_thread(crc)
        await asyncio.to_thread(deliver)
        assert {200, 400, 403} <= statuses
        async with aiohttp.ClientSession() as http, http.get(url, params={"crc_token": "still-alive"}) as resp:
            assert resp.status == 200
