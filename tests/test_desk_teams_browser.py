"""Teams in headless Chromium: one agent finds a case by txid and transfers it to Funds; a Funds agent
answers the Korean customer with the team's canned reply, in Korean."""

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from bot.cases.store import TranscriptLine
from connectors.rest.mailbox import RestMailbox
from tests.auxil.desk_app import PASSWORDS, context_of, open_case, origin, running_desk
from tests.auxil.desk_browser import chromium, close, require_chromium, sign_in

pytestmark = pytest.mark.browser

TXID = "b7" * 32
ASK_TXID_KO = "건을 추적할 수 있도록 거래 ID(txid)와 사용하신 네트워크를 보내 주세요."


def _rows(driver) -> list[str]:
    return [r.get_attribute("data-case-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.case-row")]


def _open_row(wait, case_id: str) -> None:
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]').click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))


def _alice_finds_it_and_transfers_to_funds(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(lambda d: len(_rows(d)) == 3)
    driver.find_element(By.ID, "search").send_keys(TXID[:16])
    wait.until(lambda d: _rows(d) == [case_id])
    _open_row(wait, case_id)
    assert "team Security" in driver.find_element(By.ID, "case-meta").text  # a P1 theft report: routed to Security
    Select(driver.find_element(By.ID, "transfer-team")).select_by_value("Funds")
    driver.find_element(By.ID, "transfer-note").send_keys("No account takeover: the ETH withdrawal is stuck on chain.")
    driver.find_element(By.ID, "transfer").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "team Funds"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "Transferred to team Funds"))
    driver.find_element(By.ID, "sign-out").click()
    wait.until(ec.presence_of_element_located((By.ID, "login-form")))


def _bob_answers_with_the_korean_canned_reply(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "bob", PASSWORDS["bob"])
    Select(driver.find_element(By.ID, "filter-team")).select_by_value("mine")
    wait.until(lambda d: _rows(d) == [case_id])  # the only case of the Funds team
    _open_row(wait, case_id)
    wait.until(lambda d: len(Select(d.find_element(By.ID, "canned")).options) > 1)
    Select(driver.find_element(By.ID, "canned")).select_by_value("send_txid")
    assert driver.find_element(By.ID, "reply-text").get_attribute("value") == f"web-kim님, 문의 {case_id} {ASK_TXID_KO}"
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), f"agent bob: web-kim님, 문의 {case_id}"))
    assert driver.find_element(By.ID, "reply-error").text == ""


async def test_a_case_found_by_txid_goes_to_funds_and_is_answered_with_a_korean_canned_reply(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        context = context_of(server)
        context.agents.set_teams("bob", ["Funds"])
        case = context.store.open_case(
            intent="suspected_theft",
            priority=1,
            channel="rest",
            sender_id="web-kim",
            summary="ETH 출금이 사라졌어요",
            details={"coin": "ETH", "txid": TXID},
            transcript=[TranscriptLine(role="customer", text="제 ETH 출금이 사라졌어요")],
            language="ko",
        )
        for n in range(2):
            open_case(server, priority=3, sender_id=f"web-other-{n}")
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_alice_finds_it_and_transfers_to_funds, driver, origin(server), case.id)
            await asyncio.to_thread(_bob_answers_with_the_korean_canned_reply, driver, origin(server), case.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        customer = [m["text"] for m in RestMailbox(context.engine).collect("web-kim")]
        assert customer[-1] == f"web-kim님, 문의 {case.id} {ASK_TXID_KO}"
        final = context.store.get(case.id)
        assert (final.team, final.assignee) == ("Funds", "bob")
        actions = [(e.actor, e.action) for e in context.desk.audit.entries(case.id)]
        assert actions == [("alice", "transfer"), ("bob", "claim"), ("bob", "reply")]
