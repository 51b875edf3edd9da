"""Desk sessions end: at their lifetime however busy, and on sign-out with their open pages."""

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from bot.cases.agents import desk_sessions, duty
from bot.cases.store import utcnow
from bot.desk.live import SESSION_ENDED
from tests.auxil.desk_app import PASSWORDS, act, context_of, open_case, origin, running_desk, signed_in, visitor


def _sign_in_time(server, agent: str, at) -> None:
    with context_of(server).engine.begin() as conn:
        conn.execute(update(desk_sessions).where(desk_sessions.c.agent == agent).values(created_at=at))


def _headers(server, token: str) -> dict[str, str]:
    return {"Origin": origin(server), "Cookie": f"desk_session={token}"}


def _token(client: TestClient) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == "desk_session")


async def _page(client: TestClient, server, token: str):
    return await client.ws_connect("/ws", headers=_headers(server, token))


async def _still_open(page, case_id: str) -> None:
    event = await asyncio.wait_for(page.receive_json(), 5)
    assert event["case"]["id"] == case_id and not page.closed


async def _closed_as_signed_out(page) -> None:
    message = await asyncio.wait_for(page.receive(), 5)
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == SESSION_ENDED


async def test_a_busy_session_still_ends_at_its_lifetime(database_url):
    async with running_desk(database_url, DESK_SESSION_MAX_HOURS="12") as server, signed_in(server, "alice") as alice:
        _sign_in_time(server, "alice", utcnow() - timedelta(hours=11, minutes=59))
        assert (await alice.get("/api/me")).status == 200  # used a second ago: not idle, and not too old yet
        _sign_in_time(server, "alice", utcnow() - timedelta(hours=12, minutes=1))
        assert (await alice.get("/api/me")).status == 401
        with context_of(server).engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(desk_sessions)).scalar_one() == 0


async def test_sign_out_closes_that_sessions_pages_and_no_other(sqlite_url):
    async with (
        running_desk(sqlite_url) as server,
        signed_in(server, "alice") as alice,
        signed_in(server, "alice") as alice_elsewhere,
        signed_in(server, "bob") as bob,
    ):
        token = _token(alice)
        signed_out = [await _page(alice, server, token) for _ in range(2)]
        others = [await _page(alice_elsewhere, server, _token(alice_elsewhere)), await _page(bob, server, _token(bob))]
        out = await alice.post("/logout", headers=_headers(server, token), allow_redirects=False)
        assert out.status == 302
        for page in signed_out:
            await _closed_as_signed_out(page)
        case = open_case(server)
        for page in others:
            await _still_open(page, case.id)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await _page(alice, server, token)
        assert refused.value.status == 401
        for page in others:
            await page.close()


async def test_pages_whose_session_ended_elsewhere_close_at_the_next_check(database_url):
    async with (
        running_desk(database_url) as first,
        running_desk(database_url) as second,
        signed_in(second, "alice") as alice,
        signed_in(second, "bob") as bob,
    ):
        alice_page = await _page(alice, second, _token(alice))
        bob_page = await _page(bob, second, _token(bob))
        hub, sessions = context_of(second).hub, context_of(second).sessions
        async with visitor(first) as other_process:
            out = await other_process.post("/logout", headers=_headers(first, _token(alice)), allow_redirects=False)
            assert out.status == 302
        await hub.close_ended(sessions)
        await _closed_as_signed_out(alice_page)
        case = open_case(second)
        await _still_open(bob_page, case.id)
        _sign_in_time(second, "bob", utcnow() - timedelta(hours=13))
        await hub.close_ended(sessions)
        await _closed_as_signed_out(bob_page)
        assert hub.size == 0


def _idle(server, agent: str) -> None:
    """As if ``agent`` had done nothing for longer than the idle time."""
    with context_of(server).engine.begin() as conn:
        conn.execute(update(duty).where(duty.c.agent == agent).values(active_until=utcnow() - timedelta(seconds=1)))


def _on_duty(server) -> list[str]:
    return [a.agent for a in context_of(server).desk.roster.current()]


async def test_an_open_tab_keeps_nobody_on_duty_only_the_agents_own_actions_do(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        assert _on_duty(server) == ["alice"]  # signing in is an action
        _idle(server, "alice")
        page = await _page(alice, server, _token(alice))
        for path in ("/api/me", "/api/queue", "/"):  # what an open tab asks for, every 30 s
            assert (await alice.get(path)).status == 200
        assert _on_duty(server) == []
        me = await (await alice.get("/api/me")).json()
        assert me["is_on_duty"] is False and me["on_duty"] == []
        case = open_case(server)
        assert (await act(alice, server, case.id, "claim")).status == 200  # acting on a case is activity
        assert _on_duty(server) == ["alice"]
        off = await alice.post("/api/duty", json={"on_duty": False}, headers={"Origin": origin(server)})
        assert off.status == 200 and (await off.json())["is_on_duty"] is False and _on_duty(server) == []
        bad = await alice.post("/api/duty", json={"on_duty": "yes"}, headers={"Origin": origin(server)})
        assert bad.status == 400 and _on_duty(server) == []
        on = await alice.post("/api/duty", json={"on_duty": True}, headers={"Origin": origin(server)})
        assert (await on.json())["is_on_duty"] is True and _on_duty(server) == ["alice"]
        assert [e.action for e in context_of(server).desk.audit.entries()][-2:] == ["off_duty", "on_duty"]
        await page.close()


async def _bobs_new_session(server) -> str:
    """Bob signs in from a browser of his own (a second TestClient would close the shared server when done)."""
    async with aiohttp.ClientSession() as browser:
        response = await browser.post(
            origin(server) + "/login",
            data={"name": "bob", "password": PASSWORDS["bob"]},
            headers={"Origin": origin(server)},
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()
        return response.cookies["desk_session"].value


async def test_a_new_password_or_a_removal_ends_the_agents_sessions_for_good(database_url):
    async with (
        running_desk(database_url) as server,
        signed_in(server, "alice") as alice,
        visitor(server) as old_cookie,  # no cookie of its own: sends the one given
    ):

        async def change_bob(change: dict) -> None:
            response = await alice.post("/api/agents/bob", json=change, headers={"Origin": origin(server)})
            assert response.status == 200, await response.text()

        async def works(token: str) -> bool:
            response = await old_cookie.get("/api/me", headers={"Cookie": f"desk_session={token}"})
            assert response.status in (200, 401)
            return response.status == 200 and (await response.json())["agent"] == "bob"

        before_reset = await _bobs_new_session(server)
        assert await works(before_reset)
        await change_bob({"password": PASSWORDS["bob"]})  # even the same password again
        assert not await works(before_reset)
        before_removal = await _bobs_new_session(server)
        assert await works(before_removal)
        await change_bob({"active": False})
        assert not await works(before_removal)
        await change_bob({"active": True})
        assert not await works(before_removal) and not await works(before_reset)
        assert await works(await _bobs_new_session(server))  # restored, bob signs in afresh
        assert (await alice.get("/api/me")).status == 200  # the admin who changed bob is still signed in
