"""Working cases in headless Chromium: the SLA stops at the first reply, a failed send keeps the reply."""

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bot.cases.store import TranscriptLine
from tests.auxil.desk_app import PASSWORDS, context_of, open_case, origin, running_desk
from tests.auxil.desk_browser import WAIT_SECONDS, chromium, close, require_chromium, sign_in

pytestmark = pytest.mark.browser

REPLY = "We froze your account; the team is on it."
UNSENT = "Please confirm the txid you sent to."


def _row(driver, case_id: str):
    return driver.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]')


def _sla_met_after_the_first_reply(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(lambda d: "left" in _row(d, case_id).find_element(By.CSS_SELECTOR, "td.sla").text)
    _row(driver, case_id).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))
    assert "left" in driver.find_element(By.ID, "case-sla").text
    driver.find_element(By.ID, "reply-text").send_keys(REPLY)
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-sla"), "met"))
    wait.until(lambda d: _row(d, case_id).find_element(By.CSS_SELECTOR, "td.sla").text == "met")
    assert _row(driver, case_id).find_element(By.CSS_SELECTOR, "td.waiting").text == "answered"
    assert driver.find_element(By.ID, "reply-text").get_attribute("value") == ""  # sent: the box is free again


def _waiting_again_and_a_failed_send(driver, case_id: str, x_case_id: str) -> None:
    wait = WebDriverWait(driver, WAIT_SECONDS)  # signed in already
    wait.until(lambda d: _row(d, case_id).find_element(By.CSS_SELECTOR, "td.waiting").text.endswith("s"))
    assert _row(driver, case_id).find_element(By.CSS_SELECTOR, "td.sla").text == "met"  # the SLA stays stopped
    _row(driver, x_case_id).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), x_case_id))
    driver.find_element(By.ID, "note-text").send_keys("customer called too")
    driver.find_element(By.ID, "add-note").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "customer called too"))
    driver.find_element(By.ID, "reply-text").send_keys(UNSENT)
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "reply-error"), "Not sent"))
    assert "X credentials are not set" in driver.find_element(By.ID, "reply-error").text
    assert driver.find_element(By.ID, "reply-text").get_attribute("value") == UNSENT  # the text survived
    assert UNSENT not in driver.find_element(By.ID, "transcript").text


async def test_sla_is_met_after_the_first_reply_and_a_failed_send_keeps_the_text(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        context = context_of(server)
        case = open_case(server, sender_id="web-sla")
        x_case = open_case(server, channel="twitter", sender_id="x:4242", priority=2)  # the desk has no X credentials
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_sla_met_after_the_first_reply, driver, origin(server), case.id)
            context.store.record_message(case.id, TranscriptLine(role="customer", text="anything new?"))
            await asyncio.to_thread(_waiting_again_and_a_failed_send, driver, case.id, x_case.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        lines = [(t.role, t.text) for t in context.store.transcript(x_case.id)]
        assert ("note", "customer called too") in lines and all(text != UNSENT for _, text in lines)
