"""The Telegram customer sees "typing..." while the agent who claimed their case writes, at most every few seconds."""

from __future__ import annotations

import asyncio

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.cases.store import Case
from bot.desk.typing import CustomerTyping
from connectors.telegram.ratelimit import PerChatRateLimiter
from connectors.telegram.sender import TelegramSender
from tests.auxil.desk_app import act, context_of, open_case, origin, running_desk, signed_in
from tests.auxil.fake_telegram import FakeTelegram

CHAT = 6262


def _telegram_case(server: TestServer, chat: int = CHAT) -> Case:
    return open_case(server, channel="telegram", sender_id=f"tg:{chat}:{chat}")


async def _typing(client: TestClient, server: TestServer, case_id: str) -> ClientResponse:
    return await client.post(f"/api/cases/{case_id}/typing", headers={"Origin": origin(server)})


async def test_the_claiming_agent_typing_reaches_the_customer_chat_once_per_interval(database_url: str) -> None:
    async with FakeTelegram() as fake:
        desk = running_desk(database_url, TELEGRAM_BOT_TOKEN="123:customer-bot", TELEGRAM_API_BASE_URL=fake.base_url)
        async with desk as server, signed_in(server, "alice") as alice:
            case = _telegram_case(server)
            _telegram_case(server, chat=CHAT + 1)  # another Telegram customer, who must see nothing

            unclaimed = await _typing(alice, server, case.id)
            assert unclaimed.status == 409 and "claimed" in (await unclaimed.json())["error"]
            assert fake.calls_to("sendChatAction") == []

            assert (await act(alice, server, case.id, "claim")).status == 200
            first = await _typing(alice, server, case.id)
            assert first.status == 200 and await first.json() == {"sent": True}
            [call] = await fake.wait_for("sendChatAction", chat_id=CHAT)
            assert call.params["action"] == "typing"

            again = await _typing(alice, server, case.id)
            assert await again.json() == {"sent": False}  # inside the interval: throttled
            assert len(fake.calls_to("sendChatAction", CHAT)) == 1

            async with signed_in(server, "bob") as bob:
                not_his = await _typing(bob, server, case.id)
                assert not_his.status == 409
            assert fake.calls_to("sendChatAction", CHAT + 1) == []


async def test_typing_is_refused_for_other_channels_and_without_the_customer_bot(database_url: str) -> None:
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        rest_case = open_case(server, channel="rest", sender_id="web-typing")
        telegram_case = _telegram_case(server)
        for case in (rest_case, telegram_case):
            assert (await act(alice, server, case.id, "claim")).status == 200
        assert context_of(server).typing is None
        rest = await _typing(alice, server, rest_case.id)
        assert rest.status == 409 and "Telegram customers" in (await rest.json())["error"]
        unset = await _typing(alice, server, telegram_case.id)
        assert unset.status == 409 and "TELEGRAM_BOT_TOKEN" in (await unset.json())["error"]


async def test_the_throttle_lets_the_next_action_through_after_the_interval(database_url: str) -> None:
    now = [100.0]
    async with FakeTelegram() as fake, running_desk(database_url) as server:
        case = _telegram_case(server)
        typing = CustomerTyping(TelegramSender.create("123:customer-bot", base_url=fake.base_url), clock=lambda: now[0])
        try:
            assert await typing.shown(case) is True
            now[0] += 3.9
            assert await typing.shown(case) is False
            now[0] += 0.2
            assert await typing.shown(case) is True
        finally:
            await typing.stop()
        assert [c.params["action"] for c in fake.calls_to("sendChatAction", CHAT)] == ["typing", "typing"]


async def test_an_action_the_send_budget_skipped_is_not_reported_shown(database_url: str) -> None:
    """Replies waiting for the send budget come first, and the agent's page is told it was not shown."""
    async with FakeTelegram() as fake, running_desk(database_url) as server:
        case = _telegram_case(server)
        limiter = PerChatRateLimiter(per_chat_interval=0.0, overall_limit=2, overall_period=0.5)
        sender = TelegramSender.create("123:customer-bot", base_url=fake.base_url, rate_limiter=limiter)
        now = [100.0]
        typing = CustomerTyping(sender, clock=lambda: now[0])
        try:
            await sender.start()  # getMe takes one send of the window
            replies = asyncio.gather(*(sender.send_text(CHAT, f"reply {i}") for i in range(3)))
            await fake.wait_for("sendMessage", count=1)
            assert await typing.shown(case) is False  # two replies wait for the budget: skipped
            await replies
            assert await typing.shown(case) is False  # the interval holds after a try that was not shown too
            await asyncio.sleep(0.5)  # the replies' window of the send budget empties
            now[0] += 4.1  # and the case's interval is over
            assert await typing.shown(case) is True
        finally:
            await typing.stop()
        assert len(fake.calls_to("sendChatAction", CHAT)) == 1
