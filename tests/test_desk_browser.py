import asyncio
import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import delete, select

from bot.cases.agents import desk_sessions
from bot.cases.schema import case_messages
from bot.cases.store import TranscriptLine
from tests.auxil.desk_app import PASSWORDS, context_of, origin, running_desk
from tests.auxil.desk_browser import chromium, close, require_chromium
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.telegram_harness import ChannelHarness

CUSTOMER_TOKEN = "222:customers"
CUSTOMER_CHAT = 5151


def _drive(driver, base: str, case_id: str, customer_texts) -> None:
    wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))
    driver.get(base + "/")
    wait.until(ec.presence_of_element_located((By.ID, "login-form")))  # redirected to sign in
    driver.find_element(By.ID, "name").send_keys("alice")
    driver.find_element(By.ID, "password").send_keys(PASSWORDS["alice"])
    driver.find_element(By.ID, "sign-in").click()
    row = f'tr[data-case-id="{case_id}"]'  # found again each time: a live event re-renders the queue
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, row)))
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, row + " td.p1").text == "P1")
    wait.until(lambda d: "left" in d.find_element(By.CSS_SELECTOR, row + " td.sla").text)  # SLA timer runs
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, row).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))
    assert "BTC" in driver.find_element(By.ID, "details").text
    assert "articles tried" not in driver.find_element(By.ID, "details").text  # listed apart, as links
    tried = driver.find_element(By.ID, "articles-tried")
    assert "(phishing-protection)" in tried.text
    assert tried.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("/help/en/phishing-protection")
    assert "someone took my BTC" in driver.find_element(By.ID, "transcript").text
    driver.find_element(By.ID, "claim").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "claimed by alice"))
    driver.find_element(By.ID, "reply-text").send_keys("Your account is frozen; we are on it.")
    driver.find_element(By.ID, "send-reply").click()
    wait.until(lambda d: "Your account is frozen; we are on it." in customer_texts())  # sent by the channel
    sent = "agent alice: Your account is frozen; we are on it. sent"  # the page looks again while it is queued
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), sent))
    driver.find_element(By.ID, "resolve").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "Status: resolved"))
    wait.until(lambda d: any(case_id in text and "5" in text for text in customer_texts()[1:]))
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]'))


def _end_every_session(context) -> None:
    with context.engine.begin() as conn:
        conn.execute(delete(desk_sessions))


def _wait_for_sign_in_page(driver) -> None:
    WebDriverWait(driver, 15).until(ec.presence_of_element_located((By.ID, "login-form")))


@pytest.mark.browser
async def test_agent_signs_in_claims_a_p1_replies_and_resolves_in_chromium(sqlite_url, tmp_path):
    require_chromium()
    async with (
        FakeTelegram() as fake,
        ChannelHarness(fake, sqlite_url, tmp_path, token=CUSTOMER_TOKEN),
        running_desk(sqlite_url) as server,
    ):
        context = context_of(server)
        case = context.store.open_case(
            intent="suspected_theft",
            priority=1,
            channel="telegram",
            sender_id=f"tg:{CUSTOMER_CHAT}:{CUSTOMER_CHAT}",
            summary="Withdrawals I did not make",
            details={"coin": "BTC", "amount": "0.5", "articles_tried": ["phishing-protection"]},
            transcript=[TranscriptLine(role="customer", text="someone took my BTC")],
        )

        def customer_texts() -> list[str]:
            return [
                c.params["text"] for c in fake.calls_to("sendMessage", CUSTOMER_CHAT) if c.token == CUSTOMER_TOKEN
            ]

        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        started = time.monotonic()
        try:
            await asyncio.to_thread(_drive, driver, origin(server), case.id, customer_texts)
            _end_every_session(context)  # as if signed out in another tab, or through another desk process
            await context.hub.close_ended(context.sessions)
            await asyncio.to_thread(_wait_for_sign_in_page, driver)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        print(f"\nbrowser flow took {time.monotonic() - started:.1f} s")
        final = context.store.get(case.id)
        assert final.status == "resolved" and final.assignee == "alice"
        actions = [(a.actor, a.action) for a in context.desk.audit.entries(case.id)]
        assert actions == [("alice", "claim"), ("alice", "reply"), ("alice", "resolve")]
        with context.engine.connect() as conn:  # the page names its reply, so sending it again says it once
            keys = conn.execute(select(case_messages.c.line_key).where(case_messages.c.role == "agent")).scalars()
            assert [key.split(":")[0] for key in keys] == ["desk-reply"]
