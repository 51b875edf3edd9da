"""Admins edit teams and routing on the desk: checked, saved for every desk process, audited; others only read."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from bot.cases.store import TranscriptLine
from tests.auxil.desk_app import PASSWORDS, context_of, origin, running_desk, signed_in
from tests.auxil.desk_browser import chromium, close, require_chromium, sign_in


async def _save(client: TestClient, server: TestServer, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/routing", json=document, headers={"Origin": origin(server)})
    return response.status, await response.json()


def _with_listings(document: dict[str, Any]) -> dict[str, Any]:
    """The routing in force plus a Listings team that takes listing questions."""
    edited = copy.deepcopy(document)
    edited["teams"].append("Listings")
    edited["routes"].insert(0, {"team": "Listings", "intents": ["listing_info"], "priorities": []})
    return {key: edited[key] for key in ("teams", "default", "routes")}


async def test_only_an_admin_changes_the_routing_and_a_non_admin_gets_403(database_url: str) -> None:
    async with running_desk(database_url) as server, signed_in(server, "bob") as bob:
        shown = await (await bob.get("/api/routing")).json()
        assert shown["source"] == "file" and shown["is_admin"] is False
        assert shown["teams"] == ["Security", "Funds", "KYC", "General"]
        status, body = await _save(bob, server, _with_listings(shown))
        assert status == 403 and "only an admin" in body["error"]
        assert (await (await bob.get("/api/routing")).json())["teams"] == shown["teams"]  # nothing changed
        [refused] = [e for e in context_of(server).desk.audit.entries() if e.action == "routing_change"]
        assert (refused.actor, refused.allowed) == ("bob", False)


async def test_an_edit_that_names_unknowns_is_refused_with_the_reason(database_url: str) -> None:
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        good = _with_listings(await (await alice.get("/api/routing")).json())
        bad_intent = copy.deepcopy(good)
        bad_intent["routes"][0]["intents"] = ["listing_info", "moon_soon"]
        bad_priority = copy.deepcopy(good)
        bad_priority["routes"][0]["priorities"] = [7]
        bad_team = copy.deepcopy(good)
        bad_team["routes"][0]["team"] = "Nobody"
        bad_default = {**good, "default": "Nobody"}
        twice = {**good, "teams": [*good["teams"], "Funds"]}
        misspelt = copy.deepcopy(good)
        misspelt["routes"][0]["intent"] = misspelt["routes"][0].pop("intents")
        catch_all = {**good, "routes": [{"team": "KYC"}]}
        for document, reason in [
            (misspelt, "route 1: unknown key intent"),
            (catch_all, "name intents or priorities"),
            (bad_intent, "unknown intent moon_soon"),
            (bad_priority, "priorities must be a list of 1 to 4"),
            (bad_team, "route 1: needs a team that is one of the teams"),
            (bad_default, "default must be one of the teams"),
            (twice, "a team is listed twice"),
        ]:
            status, body = await _save(alice, server, document)
            assert status == 400 and reason in body["error"], (reason, body)
        not_an_object = await alice.post("/api/routing", json=["Security"], headers={"Origin": origin(server)})
        assert not_an_object.status == 400
        assert (await (await alice.get("/api/routing")).json())["source"] == "file"  # none of it was saved


async def test_a_saved_edit_routes_cases_at_once_survives_a_restart_and_is_audited(database_url: str) -> None:
    async with running_desk(database_url) as server, signed_in(server, "alice") as alice:
        store = context_of(server).store
        case = store.open_case(
            intent="listing_info", priority=4, channel="rest", sender_id="web-list", summary="When XYZ?", details={},
            transcript=[TranscriptLine(role="customer", text="when will you list XYZ?")],
        )  # fmt: skip
        assert (await (await alice.get(f"/api/cases/{case.id}")).json())["team"] == "General"
        before = await (await alice.get("/api/routing")).json()
        status, saved = await _save(alice, server, _with_listings(before))
        assert status == 200 and saved["source"] == "desk" and saved["updated_by"] == "alice"
        assert (await (await alice.get(f"/api/cases/{case.id}")).json())["team"] == "Listings"
        queue = await (await alice.get("/api/queue?team=Listings")).json()
        assert [c["id"] for c in queue["cases"]] == [case.id]
        assert "Listings" in (await (await alice.get("/api/me")).json())["all_teams"]
        headers = {"Origin": origin(server)}
        assert (await alice.post("/api/agents/bob", json={"teams": ["Listings"]}, headers=headers)).status == 200
        [entry] = [e for e in context_of(server).desk.audit.entries() if e.action == "routing_change"]
        assert (entry.actor, entry.allowed) == ("alice", True)
        assert "Listings" not in entry.detail["before"]["teams"] and "Listings" in entry.detail["after"]["teams"]

        dropped = {**saved, "teams": before["teams"], "routes": before["routes"]}
        status, body = await _save(alice, server, {k: dropped[k] for k in ("teams", "default", "routes")})
        assert status == 400 and "agent bob is in Listings" in body["error"]  # a team in use stays
    async with running_desk(database_url) as again, signed_in(again, "alice") as alice:
        shown = await (await alice.get("/api/routing")).json()
        assert shown["source"] == "desk" and "Listings" in shown["teams"]  # the database keeps it, not the process
        assert (await (await alice.get(f"/api/cases/{case.id}")).json())["team"] == "Listings"


def _edit_in_the_page(driver, base: str) -> None:  # type: ignore[no-untyped-def]
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    driver.find_element(By.ID, "show-agents").click()
    box = driver.find_element(By.ID, "routing-text")
    wait.until(lambda d: '"Security"' in box.get_attribute("value"))
    assert box.get_attribute("readonly") is None
    document = json.loads(box.get_attribute("value"))
    document["teams"].append("Listings")
    document["routes"].insert(0, {"team": "Listings", "intents": ["moon_soon"], "priorities": []})
    box.clear()
    box.send_keys(json.dumps(document))
    driver.find_element(By.ID, "save-routing").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "routing-error"), "unknown intent moon_soon"))
    assert "moon_soon" in box.get_attribute("value")  # the admin's text is kept to fix
    document["routes"][0]["intents"] = ["listing_info"]
    box.clear()
    box.send_keys(json.dumps(document))
    driver.find_element(By.ID, "save-routing").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "routing-source"), "Saved on the desk by alice"))
    assert driver.find_element(By.ID, "routing-error").text == ""
    teams = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#filter-team option")]
    assert "Listings" in teams


def _read_only_for_an_agent(driver, base: str) -> None:  # type: ignore[no-untyped-def]
    driver.delete_all_cookies()
    wait = sign_in(driver, base, "bob", PASSWORDS["bob"])
    driver.find_element(By.ID, "show-agents").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "routing-source"), "Saved on the desk by alice"))
    assert driver.find_element(By.ID, "routing-text").get_attribute("readonly") is not None
    assert not driver.find_element(By.ID, "save-routing").is_displayed()


@pytest.mark.browser
async def test_an_admin_edits_routing_in_the_page_and_an_agent_only_reads_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    require_chromium()
    async with running_desk(sqlite_url) as server:
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_edit_in_the_page, driver, origin(server))
            await asyncio.to_thread(_read_only_for_an_agent, driver, origin(server))
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        assert "Listings" in context_of(server).routing.current().teams
