"""The agents table: seeded once from DESK_AGENTS, managed by an admin in the desk, one identity per agent."""

import aiohttp
from aiohttp.test_utils import TestClient

from bot.cases.agent_directory import AgentDirectory, NewAgent
from bot.cases.escalations import P1_REALERT_FLAG, Escalations
from bot.desk.escalation import EscalationWatcher
from bot.desk.passwords import hash_password
from tests.auxil.desk_app import act, context_of, desk_agents, open_case, origin, running_desk, signed_in


async def _post(client: TestClient, server, path: str, body: dict):
    return await client.post(path, json=body, headers={"Origin": origin(server)})


async def _sign_in(server, name: str, password: str) -> bool:
    """A sign-in from a browser of its own (a TestClient would close the shared server when done)."""
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            origin(server) + "/login",
            data={"name": name, "password": password},
            headers={"Origin": origin(server)},
            allow_redirects=False,
        )
        return response.status == 302 and response.headers["Location"] == "/"


async def test_desk_agents_seed_the_table_on_the_first_start_only(sqlite_url):
    async with running_desk(sqlite_url, DESK_AGENTS=desk_agents({"bob": 4343})) as server:
        listed = {(a.name, a.role, a.telegram_user_id) for a in context_of(server).agents.all()}
        assert listed == {("alice", "admin", None), ("bob", "agent", 4343)}  # the first agent is the admin
    later = "carol:" + hash_password("carol-pass-3", iterations=1000)
    async with running_desk(sqlite_url, DESK_AGENTS=later) as server:  # the table is the truth now
        assert [a.name for a in context_of(server).agents.all()] == ["alice", "bob"]
        assert not await _sign_in(server, "carol", "carol-pass-3")


async def test_an_admin_manages_agents_and_nobody_else_can(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice, signed_in(server, "bob") as bob:
        context = context_of(server)
        carol = {"name": "carol", "password": "carol-pass-3", "telegram_user_id": 5555}
        refused = await _post(bob, server, "/api/agents", carol)
        assert refused.status == 403
        assert [(e.actor, e.action, e.allowed) for e in context.desk.audit.entries()][-1] == ("bob", "agent_add", False)
        assert (await _post(alice, server, "/api/agents", {**carol, "telegram_user_id": "@carol"})).status == 400
        assert (await _post(alice, server, "/api/agents", {**carol, "password": "short"})).status == 400
        assert (await _post(alice, server, "/api/agents", {**carol, "name": "a:b"})).status == 409
        added = await _post(alice, server, "/api/agents", carol)
        assert added.status == 200 and (await added.json())["telegram_user_id"] == 5555
        assert await _sign_in(server, "carol", "carol-pass-3")
        taken = await _post(alice, server, "/api/agents/bob", {"telegram_user_id": 5555})
        assert taken.status == 409 and "already linked to carol" in (await taken.json())["error"]
        last_admin = await _post(alice, server, "/api/agents/alice", {"role": "agent"})
        assert last_admin.status == 409 and "admin" in (await last_admin.json())["error"]
        assert (await _post(alice, server, "/api/agents/nobody", {"active": False})).status == 404
        assert (await _post(alice, server, "/api/agents/bob", {"active": False})).status == 200
        assert (await bob.get("/api/me")).status == 401  # removed: signed out at the next request
        listed = await (await alice.get("/api/agents")).json()
        assert {(a["name"], a["active"]) for a in listed["agents"]} == {
            ("alice", True),
            ("bob", False),
            ("carol", True),
        }
        audit = [e for e in context.desk.audit.entries() if e.action.startswith("agent_") and e.allowed]
        assert all("password_hash" not in e.detail and "carol-pass-3" not in str(e.detail) for e in audit)


def test_linking_a_telegram_id_gives_the_agent_the_cases_claimed_under_it_in_the_group(sqlite_url):
    from bot.cases.database import make_engine
    from bot.cases.store import CaseStore

    engine = make_engine(sqlite_url)
    try:
        store, directory = CaseStore(engine), AgentDirectory(engine)
        directory.seed([NewAgent("alice", hash_password("x" * 12, iterations=1000), "admin")])
        case = store.open_case(intent="t", priority=1, channel="rest", sender_id="w", summary="s", details={})
        store.claim(case.id, "tg:4242")  # claimed in the group before 4242 was linked to anyone
        directory.change("alice", telegram_user_id=4242)
        assert store.get(case.id).assignee == "alice" and directory.by_telegram(4242).name == "alice"
        directory.change("alice", unlink_telegram=True)
        assert directory.by_telegram(4242) is None
    finally:
        engine.dispose()


async def test_a_removed_agent_cannot_take_a_case(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = open_case(server)
        assert (await _post(alice, server, "/api/agents/bob", {"active": False})).status == 200
        assert not await _sign_in(server, "bob", "bob-pass-2")
        assert context_of(server).store.get(case.id).status == "open"


async def test_removing_an_agent_takes_them_off_duty_and_puts_their_cases_back_in_the_queue(database_url):
    async with (
        running_desk(database_url) as server,
        signed_in(server, "alice") as alice,
        signed_in(server, "bob") as bob,
    ):
        context = context_of(server)
        case = open_case(server, priority=1)
        assert (await act(bob, server, case.id, "claim")).status == 200
        assert [a.agent for a in context.desk.roster.current()] == ["alice", "bob"]
        assert (await _post(alice, server, "/api/agents/bob", {"active": False})).status == 200
        assert (await (await alice.get("/api/me")).json())["on_duty"] == ["alice"]
        released = context.store.get(case.id)
        assert (released.status, released.assignee) == ("open", None)
        last = context.desk.audit.entries(case.id)[-1]
        assert (last.actor, last.action, last.allowed) == ("alice", "release", True)
        assert last.detail == {"agent": "bob", "reason": "agent removed"}
        escalations = Escalations(context.engine)
        watcher = EscalationWatcher(
            context.engine, context.desk.roster, escalations, p1_realert_seconds=0, no_agent_notice_seconds=3600
        )
        watcher.check_once()  # the P1 re-alert sees it unclaimed again
        assert P1_REALERT_FLAG in escalations.flags(case.id)
        assert (await act(alice, server, case.id, "reply", text="I have your case now")).status == 200
        assert context.store.get(case.id).assignee == "alice"


async def test_an_admin_takes_over_or_transfers_another_agents_case_and_an_agent_cannot(database_url):
    async with (
        running_desk(database_url) as server,
        signed_in(server, "alice") as alice,
        signed_in(server, "bob") as bob,
    ):
        context = context_of(server)
        taken, moved = open_case(server), open_case(server, sender_id="web-bo")
        for case in (taken, moved):
            assert (await act(bob, server, case.id, "claim")).status == 200
        plain = await act(alice, server, taken.id, "claim")  # a plain claim never takes over
        assert plain.status == 409 and context.store.get(taken.id).assignee == "bob"
        assert (await act(alice, server, taken.id, "claim", take_over=True)).status == 200
        assert context.store.get(taken.id).assignee == "alice"
        claim = context.desk.audit.entries(taken.id)[-1]
        assert (claim.actor, claim.action, claim.detail["taken_from"]) == ("alice", "claim", "bob")
        transfer = await act(alice, server, moved.id, "transfer", team="Security", note="bob is ill")
        assert transfer.status == 200
        assert (context.store.get(moved.id).status, context.store.get(moved.id).assignee) == ("open", None)
        entry = context.desk.audit.entries(moved.id)[-1]
        assert (entry.action, entry.detail["taken_from"]) == ("transfer", "bob")
        refused = await act(bob, server, taken.id, "claim", take_over=True)  # bob is no admin
        assert refused.status == 409 and "already claimed by alice" in (await refused.json())["error"]
        assert context.store.get(taken.id).assignee == "alice"
