"""The reports: response and resolution times by priority and team, CSAT, SLA breaches, intents; as charts and CSV."""

import asyncio
import csv
import io
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import update

from bot.cases.schema import cases
from bot.cases.store import TranscriptLine, utcnow
from tests.auxil.desk_app import PASSWORDS, context_of, origin, running_desk, signed_in
from tests.auxil.desk_browser import chromium, close, require_chromium, screenshot, sign_in


def _case(
    server,
    intent: str,
    priority: int,
    *,
    age: timedelta,
    reply_after=None,
    resolve_after=None,
    rating=None,
    comment=None,
):
    """A case opened ``age`` ago, answered and resolved that long after it opened."""
    store = context_of(server).store
    case = store.open_case(
        intent=intent,
        priority=priority,
        channel="rest",
        sender_id=f"web-{intent}",
        summary="s",
        details={},
        transcript=[TranscriptLine(role="customer", text="help")],
    )
    opened = utcnow() - age
    with context_of(server).engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == case.id).values(created_at=opened))
    if reply_after is not None:
        store.record_message(
            case.id, TranscriptLine(role="agent", text="on it", author="alice", at=opened + reply_after)
        )
    if resolve_after is not None:
        store.resolve(case.id, "alice")
        with context_of(server).engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.id == case.id).values(resolved_at=opened + resolve_after))
    if rating is not None:
        store.rate(case.id, rating)
    if comment is not None:
        store.comment_on_rating(case.id, comment)
    return case


def _cases_of_the_test(server) -> None:
    minute = timedelta(minutes=1)
    _case(server, "suspected_theft", 1, age=20 * minute, reply_after=3 * minute, resolve_after=10 * minute, rating=5)
    _case(
        server,
        "withdrawal_stuck",
        2,
        age=120 * minute,
        reply_after=45 * minute,
        resolve_after=90 * minute,
        rating=2,
        comment="=too slow, 45 minutes",
    )
    _case(server, "kyc_verification", 3, age=10 * minute)


async def test_the_report_gives_the_figures_of_the_cases_and_the_same_as_csv(database_url):
    async with running_desk(database_url) as server, signed_in(server, "bob") as bob:
        _cases_of_the_test(server)
        report = await (await bob.get("/api/reports?days=7")).json()
        assert report["cases"] == 3
        assert report["by_priority"] == {
            "P1": {"cases": 1, "first_response_seconds": 180.0, "resolution_seconds": 600.0},
            "P2": {"cases": 1, "first_response_seconds": 2700.0, "resolution_seconds": 5400.0},
            "P3": {"cases": 1, "first_response_seconds": None, "resolution_seconds": None},
        }
        assert report["by_team"]["Funds"] == report["by_priority"]["P2"]
        assert report["by_team"]["General"] == {"cases": 0, "first_response_seconds": None, "resolution_seconds": None}
        assert report["csat"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
        assert [(c["rating"], c["comment"]) for c in report["csat_comments"]] == [(2, "=too slow, 45 minutes")]
        assert sum(report["sla_breaches_per_day"].values()) == 1  # the P2 answered after 45 of its 30 minutes
        assert report["cases_by_intent"] == {"suspected_theft": 1, "withdrawal_stuck": 1, "kyc_verification": 1}
        download = await bob.get("/api/reports.csv?days=7")
        assert download.status == 200 and "attachment" in download.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await download.text())))
        assert ["by_team", "Security", "first_response_seconds", "180.0"] in rows
        assert ["csat", "5", "ratings", "1"] in rows
        commented = report["csat_comments"][0]["case_id"]
        assert ["csat_comments", commented, "rating_2", "'=too slow, 45 minutes"] in rows  # never a formula
        for bad in ("0", "367", "x", "-1"):
            assert (await bob.get(f"/api/reports?days={bad}")).status == 400


def _read_the_reports_page(driver, base: str) -> dict[str, str]:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    driver.find_element(By.ID, "reports-link").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#csat g.bar"))
    wait.until(lambda d: "3 cases opened" in d.find_element(By.ID, "total").text)
    screenshot(driver, "desk-reports-desktop")
    bars = {}
    for chart in ("first-response-priority", "resolution-team", "csat", "breaches", "intents"):
        for bar in driver.find_elements(By.CSS_SELECTOR, f"#{chart} g.bar"):
            bars[f"{chart}/{bar.get_attribute('data-label')}"] = bar.find_element(By.CSS_SELECTOR, ".bar-value").text
    bars["comments"] = driver.find_element(By.ID, "csat-comments").text
    return bars


@pytest.mark.browser
async def test_the_reports_page_charts_the_cases_of_the_test(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        _cases_of_the_test(server)
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            bars = await asyncio.to_thread(_read_the_reports_page, driver, origin(server))
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        assert bars["first-response-priority/P1 (1)"] == "3.0 min"
        assert bars["first-response-priority/P3 (1)"] == "none"
        assert bars["resolution-team/Funds (1)"] == "1.5 h"
        assert bars["csat/5 \u2605"] == "1" and bars["csat/2 \u2605"] == "1" and bars["csat/3 \u2605"] == "0"
        assert list(v for k, v in bars.items() if k.startswith("breaches/")) == ["1"]
        assert bars["intents/withdrawal stuck"] == "1"
        assert bars["comments"].endswith("\u00b7 2 \u2605 \u00b7 =too slow, 45 minutes")
