"""Customer history in headless Chromium: a Telegram customer and an X customer are two people until an
agent links them (what the customer says links nothing); linked, each case lists the other's; unlinked, not."""

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from bot.cases.store import TranscriptLine
from tests.auxil.desk_app import PASSWORDS, context_of, origin, running_desk
from tests.auxil.desk_browser import chromium, close, require_chromium, sign_in

pytestmark = pytest.mark.browser

CLAIM = "I'm @bob on X, same person, link my cases"


def _history(driver) -> list[str]:
    """The case ids the history lists, read in one go (the page redraws it on each live event)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#history tbody tr')].map((row) => row.dataset.caseId)"
    )


def _open_row(wait, case_id: str) -> None:
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]').click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))


def _link_see_both_histories_and_unlink(driver, base: str, tg_now: str, tg_before: str, x_case: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    _open_row(wait, tg_now)
    wait.until(lambda d: _history(d) == [tg_before])  # the same Telegram user's older case, not @bob's
    assert CLAIM in driver.find_element(By.ID, "transcript").text
    assert "Ann Lee (@ann_l) (tg:5151)" in driver.find_element(By.ID, "case-customer").text
    row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'#history tr[data-case-id="{tg_before}"]').text)
    assert all(part in row for part in ("account locked", "P3", "resolved", "UTC"))
    assert driver.find_elements(By.CSS_SELECTOR, "#links li") == []

    driver.find_element(By.ID, "link-other").send_keys("@bob")  # a name is not an identity
    driver.find_element(By.ID, "link-customer").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "link-error"), "Not linked: type a case id"))
    assert _history(driver) == [tg_before]

    driver.find_element(By.ID, "link-other").clear()
    driver.find_element(By.ID, "link-other").send_keys(x_case.lower())  # as an agent may type it
    driver.find_element(By.ID, "link-customer").click()
    wait.until(lambda d: _history(d) == [x_case, tg_before])  # newest first
    assert "@bob" in wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'#history tr[data-case-id="{x_case}"]').text)
    assert driver.find_element(By.ID, "link-error").text == ""
    wait.until(ec.text_to_be_present_in_element((By.ID, "links"), "Linked: tg:5151 = x:9001 (by alice"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "audit"), "alice (desk) link_customer"))

    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'#history a[href="#case={x_case}"]').click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), x_case))
    wait.until(lambda d: _history(d) == [tg_now, tg_before])
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#links button.unlink-customer").click() or True)
    wait.until(lambda d: _history(d) == [])
    assert driver.find_element(By.ID, "history-empty").is_displayed()
    wait.until(ec.text_to_be_present_in_element((By.ID, "audit"), "alice (desk) unlink_customer"))


async def test_two_channels_are_one_customer_only_while_an_agent_links_them(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        store = context_of(server).store
        named = {"customer_name": "Ann Lee (@ann_l)"}
        before = store.open_case(
            intent="account_locked", priority=3, channel="telegram", sender_id="tg:5151:5151",
            summary="locked out", details=named,
        )  # fmt: skip
        store.resolve(before.id, "bob")
        now = store.open_case(
            intent="withdrawal_missing", priority=2, channel="telegram", sender_id="tg:5151:5151",
            summary="where is my ETH", details=named, transcript=[TranscriptLine(role="customer", text=CLAIM)],
        )  # fmt: skip
        x_case = store.open_case(
            intent="suspected_theft", priority=1, channel="twitter", sender_id="x:9001",
            summary="Public post on X", details={"x_username": "bob"},
        )  # fmt: skip
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(
                _link_see_both_histories_and_unlink, driver, origin(server), now.id, before.id, x_case.id
            )
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        audit = context_of(server).desk.audit
        done = [(e.action, e.allowed, e.detail) for e in audit.entries(now.id) + audit.entries(x_case.id)]
        assert done == [
            ("link_customer", False, {"reason": "type a case id, or a handle of a customer with cases"}),
            ("link_customer", True, {"customer": "tg:5151", "other": "x:9001"}),
            ("unlink_customer", True, {"customer": "tg:5151", "other": "x:9001"}),
        ]
        assert context_of(server).desk.links.person("tg:5151") == ["tg:5151"]
