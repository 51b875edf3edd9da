"""Sign-in on the desk: what a failed attempt reveals and records, and how often one may try."""

import time

from aiohttp.test_utils import TestClient

from bot.desk.passwords import hash_password
from tests.auxil.desk_app import context_of, origin, running_desk

SLOW = 200_000  # iterations: about a tenth of a second a check, far above request overhead


async def _sign_in(client: TestClient, server, name: str, password: str):
    return await client.post(
        "/login", data={"name": name, "password": password}, headers={"Origin": origin(server)}, allow_redirects=False
    )


async def _fastest_refusal(client, server, name: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        response = await _sign_in(client, server, name, "wrong password")
        times.append(time.perf_counter() - started)
        assert response.headers["Location"] == "/login?failed=1"
    return min(times)


async def test_an_unknown_name_takes_as_long_as_a_wrong_password(sqlite_url):
    agents = f"alice:{hash_password('alice-pass-1', iterations=SLOW)}"
    async with running_desk(sqlite_url, DESK_AGENTS=agents) as server:
        client = TestClient(server)
        await client.start_server()
        try:
            known = await _fastest_refusal(client, server, "alice")
            unknown = await _fastest_refusal(client, server, "nobody")
        finally:
            await client.close()
    assert unknown > 0.5 * known, f"unknown name refused in {unknown:.4f}s, wrong password in {known:.4f}s"


async def test_a_failed_sign_in_is_audited_without_the_typed_name(sqlite_url):
    async with running_desk(sqlite_url) as server:
        client = TestClient(server)
        await client.start_server()
        try:
            for name in ("Tr0ub4dor&3-my-password", "alice"):
                response = await _sign_in(client, server, name, "wrong password")
                assert response.headers["Location"] == "/login?failed=1"
        finally:
            await client.close()
        entries = context_of(server).desk.audit.entries()
    assert [(e.actor, e.action, e.allowed, e.detail["reason"]) for e in entries] == [
        ("(unknown name)", "sign_in", False, "unknown name"),
        ("alice", "sign_in", False, "wrong password"),
    ]
    assert all(e.detail["remote"] == "127.0.0.1" for e in entries)
    assert "Tr0ub4dor" not in repr(entries)
