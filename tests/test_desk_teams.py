"""Teams: routes from YAML give each case its team, the queue filters by team, a transfer carries a note."""

from pathlib import Path

import pytest

from bot.cases.database import make_engine
from bot.cases.queue import QueueFilter, find_cases
from bot.cases.store import CaseStore
from bot.desk.teams import TeamsFileError, load_routing
from tests.auxil.desk_app import act, context_of, origin, running_desk, signed_in


def test_the_default_teams_file_routes_theft_to_security_and_funds_issues_to_funds():
    routing = load_routing()
    assert routing.teams == ("Security", "Funds", "KYC", "General") and routing.default == "General"
    assert routing.team_for("suspected_theft", 1) == "Security"
    assert routing.team_for("withdrawal_stuck", 2) == "Funds"
    assert routing.team_for("withdrawal_stuck", 1) == "Funds"  # the first route that matches
    assert routing.team_for("kyc_verification", 3) == "KYC"
    assert routing.team_for("listing_info", 4) == "General"
    assert routing.team_for("listing_info", 1) == "Security"  # any other P1


@pytest.mark.parametrize(
    "text",
    [
        "teams: []\ndefault: General\n",
        "teams: [A]\ndefault: B\n",
        "teams: [A]\ndefault: A\nroutes:\n  - team: C\n",
        "teams: [A, B]\ndefault: A\nroutes:\n  - team: B\n",  # matches every case
        "teams: [A, B]\ndefault: A\nroutes:\n  - team: B\n    intent: [suspected_theft]\n",  # misspelt
        "teams: [A]\ndefault: A\nroute: []\n",
        "teams: [A]\ndefault: A\nroutes:\n  - team: A\n    priorities: [7]\n",
        "- not a mapping\n",
        "teams: [A\n",
    ],
)
def test_a_teams_file_that_does_not_say_what_the_desk_needs_is_refused(tmp_path: Path, text: str):
    path = tmp_path / "teams.yml"
    path.write_text(text)
    with pytest.raises(TeamsFileError, match=str(path)):
        load_routing(path)


def test_the_database_gives_each_case_the_team_the_routes_give_it(database_url):
    engine = make_engine(database_url)
    try:
        store, routing = CaseStore(engine), load_routing()
        opened = [
            store.open_case(intent=intent, priority=p, channel="rest", sender_id=f"w{n}", summary="s", details={})
            for n, (intent, p) in enumerate(
                [("suspected_theft", 1), ("withdrawal_stuck", 2), ("kyc_verification", 3), ("listing_info", 4)]
            )
        ]
        store.transfer(opened[3].id, by="alice", team="Funds", agent=None)  # a transfer beats the route
        for team in routing.teams:
            found = find_cases(engine, QueueFilter(teams=(team,), routing=routing))
            assert {c.id for c in found} == {c.id for c in opened if routing.team_of(store.get(c.id)) == team}
        assert [c.id for c in find_cases(engine, QueueFilter(teams=(), routing=routing))] == []
    finally:
        engine.dispose()


async def test_a_transfer_moves_the_case_with_a_note_and_my_teams_filter_follows(sqlite_url):
    async with (
        running_desk(sqlite_url) as server,
        signed_in(server, "alice") as alice,
        signed_in(server, "bob") as bob,
    ):
        context = context_of(server)
        case = context.store.open_case(
            intent="suspected_theft", priority=1, channel="rest", sender_id="web-t", summary="s", details={}
        )
        view = await (await alice.get(f"/api/cases/{case.id}")).json()
        assert view["team"] == "Security"
        headers = {"Origin": origin(server)}
        assert (await alice.post("/api/agents/bob", json={"teams": ["Funds"]}, headers=headers)).status == 200
        assert (await alice.post("/api/agents/bob", json={"teams": ["Fun"]}, headers=headers)).status == 400
        assert [c["id"] for c in (await (await bob.get("/api/queue?team=mine")).json())["cases"]] == []
        assert (await act(alice, server, case.id, "claim")).status == 200
        assert (await act(alice, server, case.id, "transfer", team="Funds", note=" ")).status == 409  # say why
        assert (await act(alice, server, case.id, "transfer", team="Nope", note="x")).status == 400
        assert (await act(bob, server, case.id, "transfer", team="Funds", note="mine now")).status == 409  # alice's
        moved = await act(alice, server, case.id, "transfer", team="Funds", note="the funds left via ETH")
        assert moved.status == 200
        after = context.store.get(case.id)
        assert (after.team, after.status, after.assignee) == ("Funds", "open", None)  # waits for the Funds team
        queue = await (await bob.get("/api/queue?team=mine")).json()
        assert [(c["id"], c["team"]) for c in queue["cases"]] == [(case.id, "Funds")]
        lines = [(t.role, t.text) for t in context.store.transcript(case.id)]
        assert ("note", "Transferred to team Funds: the funds left via ETH") in lines
        off = await bob.post("/api/duty", json={"on_duty": False}, headers=headers)
        assert off.status == 200
        refused = await act(alice, server, case.id, "transfer", agent="bob", note="yours")
        assert refused.status == 409 and "bob is off duty" in (await refused.json())["error"]
        assert (await bob.post("/api/duty", json={"on_duty": True}, headers=headers)).status == 200
        assert (await act(alice, server, case.id, "transfer", agent="bob", note="yours")).status == 200
        assert context.store.get(case.id).assignee == "bob" and context.store.get(case.id).status == "claimed"
        audit = [(e.actor, e.action, e.allowed) for e in context.desk.audit.entries(case.id)]
        assert audit[-1] == ("alice", "transfer", True)
