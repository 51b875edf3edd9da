"""The desk at phone width, its keyboard shortcuts, its P1 notification and sound, in headless Chromium.

Screenshots of the queue and a case at desktop and phone width, and of the agents page at
phone width, land in var/screenshots.
"""

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from bot.cases.store import TranscriptLine
from connectors.rest.mailbox import RestMailbox
from tests.auxil.desk_app import PASSWORDS, context_of, open_case, origin, running_desk
from tests.auxil.desk_browser import (
    RECORD_NOTIFICATIONS,
    allow_notifications,
    chromium,
    close,
    notified,
    require_chromium,
    screenshot,
    sign_in,
    waiting,
)

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390
TXID = "0x" + "5a" * 32
LONG_LINE = "I sent it to https://explorer.example/tx/" + "f00d" * 24 + " and nothing arrived"
# Counts the tones the page starts (WebAudio plays them as usual).
RECORD_TONES = """
window.tones = 0;
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.tones += 1; return realStart.apply(this, args); };
"""
TONES_PER_CHIME = 2


def _fits(driver, viewport: int = PHONE_WIDTH) -> None:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= viewport, f"the page is {width} px wide at {viewport} px"


def _desktop_then_phone(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]')))
    screenshot(driver, "desk-queue-desktop")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]').click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "details"), TXID))
    screenshot(driver, "desk-case-desktop")
    assert driver.find_element(By.ID, "queue-pane").is_displayed()  # side by side on a desktop
    _fits(driver, driver.execute_script("return window.innerWidth"))  # a 64-letter name wraps
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE_WIDTH, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    driver.get(base + "/")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]')))
    assert driver.execute_script("return window.innerWidth") == PHONE_WIDTH
    _fits(driver)
    screenshot(driver, "desk-queue-phone")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]').click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "details"), TXID))
    assert not driver.find_element(By.ID, "queue-pane").is_displayed()  # the case takes the screen
    _fits(driver)
    screenshot(driver, "desk-case-phone")
    driver.find_element(By.ID, "back-to-queue").click()
    wait.until(lambda d: d.find_element(By.ID, "queue-pane").is_displayed())
    driver.find_element(By.ID, "show-agents").click()  # alice is the admin: the agents page with its forms
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#agents tbody tr"))
    _fits(driver)
    screenshot(driver, "desk-agents-phone")
    _fits(driver)


async def test_the_queue_and_a_case_fit_a_phone_without_horizontal_scrolling(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        case = context_of(server).store.open_case(
            intent="withdrawal_missing",
            priority=1,
            channel="telegram",
            sender_id="tg:7171:7171",
            summary="Withdrawal of 2 ETH never arrived at my wallet",
            details={"txid": TXID, "address": "0x" + "9b" * 20, "coin": "ETH", "customer_name": "N" * 64},
            transcript=[TranscriptLine(role="customer", text=LONG_LINE)],
        )
        for n in range(3):
            open_case(server, priority=2 + n % 3, sender_id=f"web-customer-with-a-long-handle-{n}")
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_desktop_then_phone, driver, origin(server), case.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")


def _keys(driver, keys: str) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(keys)


def _allow_notifications_and_record(driver, base: str) -> None:
    allow_notifications(driver, base)
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    assert not driver.find_element(By.ID, "enable-notifications").is_displayed()  # allowed already
    assert not driver.find_element(By.ID, "alert-sound").is_selected()  # no sound until the agent asks
    driver.execute_script(RECORD_NOTIFICATIONS + RECORD_TONES)
    wait.until(lambda d: notified(d) == [])


def _work_by_keyboard(driver, p1_id: str) -> None:
    wait = waiting(driver)
    wait.until(lambda d: notified(d) == [f"New P1: {p1_id}"])  # the P2 opened too notified nobody
    assert driver.execute_script("return window.tones") == 0  # sound is off by default
    _keys(driver, "n")  # the next case: the first of the queue, the P1
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), p1_id))
    _keys(driver, "c")
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "claimed by alice"))
    _keys(driver, "r")
    assert driver.switch_to.active_element.get_attribute("id") == "reply-text"
    driver.switch_to.active_element.send_keys("Sent from the keyboard.", Keys.CONTROL, Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "agent alice: Sent from the keyboard."))
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    _keys(driver, "e")
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "Status: resolved"))


def _turn_the_sound_on_and_reload(driver) -> None:
    wait = waiting(driver)
    driver.find_element(By.ID, "alert-sound").click()
    wait.until(lambda d: d.execute_script("return window.tones") == TONES_PER_CHIME)  # a sample, at once
    driver.refresh()
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    assert driver.find_element(By.ID, "alert-sound").is_selected()  # remembered by the browser
    driver.execute_script(RECORD_NOTIFICATIONS + RECORD_TONES)
    driver.find_element(By.ID, "queue-pane").click()  # a browser plays sound after the page was touched


def _chimed_with(driver, p1_id: str) -> None:
    wait = waiting(driver)
    wait.until(lambda d: notified(d) == [f"New P1: {p1_id}"])
    assert driver.execute_script("return window.tones") == TONES_PER_CHIME


async def test_a_new_p1_notifies_the_open_tab_and_the_keyboard_works_a_case(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_allow_notifications_and_record, driver, origin(server))
            p1 = open_case(server, priority=1, sender_id="web-p1")
            open_case(server, priority=2, sender_id="web-p2")
            await asyncio.to_thread(_work_by_keyboard, driver, p1.id)
            await asyncio.to_thread(_turn_the_sound_on_and_reload, driver)
            second = open_case(server, priority=1, sender_id="web-p1-again")
            await asyncio.to_thread(_chimed_with, driver, second.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        customer = [m["text"] for m in RestMailbox(context_of(server).engine).collect("web-p1")]
        assert "Sent from the keyboard." in customer
        assert context_of(server).store.get(p1.id).status == "resolved"
