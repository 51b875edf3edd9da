"""Sign-in on the desk: what a failed attempt reveals and records, and how often one may try."""

import time

from aiohttp.test_utils import TestClient

from bot.desk.passwords import hash_password
from bot.desk.throttle import SignInThrottle
from tests.auxil.clock import Clock
from tests.auxil.desk_app import PASSWORDS, context_of, origin, running_desk, visitor

SLOW = 200_000  # iterations: about a tenth of a second a check, far above request overhead


async def _sign_in(client: TestClient, server, name: str, password: str):
    return await client.post(
        "/login", data={"name": name, "password": password}, headers={"Origin": origin(server)}, allow_redirects=False
    )


async def _fastest_refusals(client, server, names: tuple[str, ...], rounds: int = 4) -> dict[str, float]:
    """Each name's fastest refusal, the names taking turns so a busy moment of the machine hits them alike
    (four tries a name stay under the throttle's five)."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            started = time.perf_counter()
            response = await _sign_in(client, server, name, "wrong password")
            times[name].append(time.perf_counter() - started)
            assert response.headers["Location"] == "/login?failed=1"
    return {name: min(spent) for name, spent in times.items()}


async def test_an_unknown_name_takes_as_long_as_a_wrong_password(sqlite_url):
    agents = f"alice:{hash_password('alice-pass-1', iterations=SLOW)}"
    async with running_desk(sqlite_url, DESK_AGENTS=agents) as server, visitor(server) as client:
        fastest = await _fastest_refusals(client, server, ("alice", "nobody"))
    known, unknown = fastest["alice"], fastest["nobody"]
    assert unknown > 0.5 * known, f"unknown name refused in {unknown:.4f}s, wrong password in {known:.4f}s"


async def test_a_failed_sign_in_is_audited_without_the_typed_name(sqlite_url):
    async with running_desk(sqlite_url) as server:
        async with visitor(server) as client:
            for name in ("Tr0ub4dor&3-my-password", "alice"):
                response = await _sign_in(client, server, name, "wrong password")
                assert response.headers["Location"] == "/login?failed=1"
        entries = context_of(server).desk.audit.entries()
    assert [(e.actor, e.action, e.allowed, e.detail["reason"]) for e in entries] == [
        ("(unknown name)", "sign_in", False, "unknown name"),
        ("alice", "sign_in", False, "wrong password"),
    ]
    assert all(e.detail["remote"] == "127.0.0.1" for e in entries)
    assert "Tr0ub4dor" not in repr(entries)


def _counting_password_checks(server) -> list[str]:
    credentials = context_of(server).credentials
    real_check, checked = credentials.check, []

    def check(name, password):
        checked.append(name)
        return real_check(name, password)

    credentials.check = check
    return checked


async def test_a_name_is_throttled_before_its_password_is_checked_and_free_again_after_the_window(sqlite_url):
    clock = Clock()
    async with running_desk(sqlite_url) as server:
        context_of(server).sign_ins = SignInThrottle(per_name=5, window_seconds=300, clock=clock)
        checked = _counting_password_checks(server)
        async with visitor(server) as client:
            for _ in range(5):
                assert (await _sign_in(client, server, "alice", "guess")).headers["Location"] == "/login?failed=1"
                clock.now += 1
            throttled = await _sign_in(client, server, "alice", PASSWORDS["alice"])
            assert throttled.status == 429 and throttled.headers["Retry-After"] == "295"
            assert "desk_session" not in throttled.cookies
            assert len(checked) == 5  # the right password was never even checked
            bob = await _sign_in(client, server, "bob", PASSWORDS["bob"])
            assert bob.headers["Location"] == "/"  # one name's throttle is not another's
            clock.now += 295
            good = await _sign_in(client, server, "alice", PASSWORDS["alice"])
            assert good.status == 302 and good.headers["Location"] == "/"
        audit = context_of(server).desk.audit.entries()
        assert [e.allowed for e in audit if e.actor == "alice"] == [False] * 5 + [True]


async def test_an_address_is_throttled_across_names(sqlite_url):
    clock = Clock()
    async with running_desk(sqlite_url) as server:
        context_of(server).sign_ins = SignInThrottle(per_address=20, window_seconds=300, clock=clock)
        checked = _counting_password_checks(server)
        async with visitor(server) as client:
            for n in range(20):
                assert (await _sign_in(client, server, f"user{n}", "guess")).headers["Location"] == "/login?failed=1"
            throttled = await _sign_in(client, server, "alice", PASSWORDS["alice"])
            assert throttled.status == 429 and throttled.headers["Retry-After"] == "300"
            assert len(checked) == 20
            clock.now += 300
            assert (await _sign_in(client, server, "alice", PASSWORDS["alice"])).headers["Location"] == "/"
