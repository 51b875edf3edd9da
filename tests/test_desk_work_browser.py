"""Working cases in headless Chromium: the SLA stops at the first reply, a failed send keeps the reply
(a late one goes back to the box), an agent in the Telegram group and on the desk is one identity."""

import asyncio

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select
from sqlalchemy import update

from bot.cases.store import TranscriptLine
from connectors.rest.mailbox import RestMailbox
from connectors.telegram.storage import FAILED, telegram_replies
from tests.auxil.desk_app import PASSWORDS, context_of, desk_agents, open_case, origin, running_desk
from tests.auxil.desk_browser import WAIT_SECONDS, chromium, close, require_chromium, sign_in, waiting
from tests.auxil.fake_telegram import FakeTelegram, agent_group_message
from tests.auxil.waiting import until

pytestmark = pytest.mark.browser

REPLY = "We froze your account; the team is on it."
UNSENT = "Please confirm the txid you sent to."
LATE = "Your deposit is credited now."


def _row(driver, case_id: str):
    return driver.find_element(By.CSS_SELECTOR, f'tr[data-case-id="{case_id}"]')


def _sla_met_after_the_first_reply(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(lambda d: "left" in _row(d, case_id).find_element(By.CSS_SELECTOR, "td.sla").text)
    wait.until(lambda d: _row(d, case_id).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))
    assert "left" in driver.find_element(By.ID, "case-sla").text
    driver.find_element(By.ID, "reply-text").send_keys(REPLY)
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-sla"), "met"))
    wait.until(lambda d: _row(d, case_id).find_element(By.CSS_SELECTOR, "td.sla").text == "met")
    assert _row(driver, case_id).find_element(By.CSS_SELECTOR, "td.waiting").text == "answered"
    wait.until(lambda d: d.find_element(By.ID, "reply-text").get_attribute("value") == "")  # sent: the box is free


def _a_late_telegram_failure_goes_back_to_the_box(driver, engine, case_id: str) -> None:
    """Telegram replies are queued for the channel's process; one refused later can be put back in the box."""
    wait = waiting(driver)
    wait.until(lambda d: _row(d, case_id).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), case_id))
    driver.find_element(By.ID, "reply-text").send_keys(LATE)
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "queued"))
    # the desk's poll can draw the queued line before the send's own answer clears the box
    wait.until(lambda d: d.find_element(By.ID, "reply-text").get_attribute("value") == "")
    with engine.begin() as conn:  # as the channel records Telegram's refusal
        refused = {"status": FAILED, "error": "Forbidden: bot was blocked by the user"}
        conn.execute(update(telegram_replies).where(telegram_replies.c.chat_id == 6161).values(**refused))
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "failed: Forbidden"))
    # the transcript is redrawn as the desk polls: find the button and click it in one retried step
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#transcript button.back-to-box").click() or True)
    assert driver.find_element(By.ID, "reply-text").get_attribute("value") == LATE


def _waiting_again_and_a_failed_send(driver, case_id: str, x_case_id: str) -> None:
    wait = waiting(driver)  # signed in already
    wait.until(lambda d: _row(d, case_id).find_element(By.CSS_SELECTOR, "td.waiting").text.endswith("s"))
    assert _row(driver, case_id).find_element(By.CSS_SELECTOR, "td.sla").text == "met"  # the SLA stays stopped
    wait.until(lambda d: _row(d, x_case_id).click() or True)
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
        tg_case = open_case(server, channel="telegram", sender_id="tg:6161:6161", priority=3)
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_sla_met_after_the_first_reply, driver, origin(server), case.id)
            context.store.record_message(case.id, TranscriptLine(role="customer", text="anything new?"))
            await asyncio.to_thread(_waiting_again_and_a_failed_send, driver, case.id, x_case.id)
            await asyncio.to_thread(_a_late_telegram_failure_goes_back_to_the_box, driver, context.engine, tg_case.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        lines = [(t.role, t.text) for t in context.store.transcript(x_case.id)]
        assert ("note", "customer called too") in lines and all(text != UNSENT for _, text in lines)


GROUP, ALICE_TG, BOB_TG, AGENT_TOKEN = -1001234, 4242, 4343, "111:agents"
FROM_DESK = "Alice here, from the desk: your withdrawal is on hold."


def _group_says(fake: FakeTelegram, user_id: int, username: str, text: str, message_id: int) -> None:
    user = {"id": user_id, "is_bot": False, "first_name": "Agent", "username": username}
    fake.queue_update(agent_group_message(GROUP, user, text, message_id=message_id), token=AGENT_TOKEN)


def _group_answers(fake: FakeTelegram) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("sendMessage", GROUP) if c.token == AGENT_TOKEN]


def _answer_from_the_desk_and_link_bob(driver, base: str, case_id: str) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(lambda d: "claimed (alice)" in _row(d, case_id).text)  # claimed in the group, as alice
    wait.until(lambda d: _row(d, case_id).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "claimed by alice"))
    driver.find_element(By.ID, "reply-text").send_keys(FROM_DESK)
    driver.find_element(By.ID, "send-reply").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "transcript"), "agent alice: " + FROM_DESK))
    assert driver.find_element(By.ID, "reply-error").text == ""
    audit = driver.find_element(By.ID, "audit").text
    assert "alice (telegram) claim" in audit and "alice (desk) reply" in audit
    driver.find_element(By.ID, "show-agents").click()
    bob = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-agent="bob"]'))
    assert bob.find_element(By.CSS_SELECTOR, ".telegram-id").text == "not linked"
    bob.find_element(By.CSS_SELECTOR, "input.link-telegram").send_keys(str(BOB_TG))
    bob.find_element(By.CSS_SELECTOR, "button.save-telegram").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-agent="bob"] .telegram-id').text == str(BOB_TG))


async def test_a_telegram_group_agent_and_the_same_agent_in_the_desk_are_one_identity(sqlite_url, tmp_path):
    require_chromium()
    async with FakeTelegram() as fake:
        env = {
            "TELEGRAM_AGENT_BOT_TOKEN": AGENT_TOKEN,
            "TELEGRAM_AGENT_CHAT_ID": str(GROUP),
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "DESK_AGENTS": desk_agents({"alice": ALICE_TG}),
        }
        async with running_desk(sqlite_url, **env) as server:
            context = context_of(server)
            case = open_case(server, sender_id="web-one")
            _group_says(fake, ALICE_TG, "ally_renamed", "/onduty", 1)  # the username is never what counts
            await until(lambda: "alice is on duty." in _group_answers(fake), WAIT_SECONDS)
            _group_says(fake, ALICE_TG, "ally_renamed", f"/claim {case.id}", 2)
            await until(lambda: context.store.get(case.id).assignee == "alice", WAIT_SECONDS)
            driver = await asyncio.to_thread(chromium, tmp_path / "profile")
            try:
                await asyncio.to_thread(_answer_from_the_desk_and_link_bob, driver, origin(server), case.id)
            finally:
                await asyncio.to_thread(close, driver, tmp_path / "profile")
            customer = [m["text"] for m in RestMailbox(context.engine).collect("web-one")]
            assert customer[-1] == FROM_DESK
            assert [a.agent for a in context.desk.roster.current()] == ["alice"]  # one duty row, whichever door
            _group_says(fake, BOB_TG, "bobby", "/onduty", 3)  # linked by the admin a moment ago
            await until(lambda: "bob is on duty." in _group_answers(fake), WAIT_SECONDS)
            actions = [(e.actor, e.via, e.action) for e in context.desk.audit.entries(case.id)]
            assert actions == [("alice", "telegram", "claim"), ("alice", "desk", "reply")]


TXID = "7e3a" + "cd" * 30


def _rows(driver) -> list[str]:
    return [r.get_attribute("data-case-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.case-row")]


def _search_by_txid_and_resolve(driver, base: str, wanted: str, others: list[str]) -> None:
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    wait.until(lambda d: set(_rows(d)) == {wanted, *others})
    row = _row(driver, wanted)
    assert row.find_element(By.CSS_SELECTOR, ".channel").get_attribute("title") == "Telegram"
    assert row.find_element(By.CSS_SELECTOR, ".lang").text == "KO"
    assert row.find_element(By.CSS_SELECTOR, ".customer-name").text == "tg:6161"
    driver.find_element(By.ID, "search").send_keys(TXID[10:30])  # a piece of the txid, pasted
    wait.until(lambda d: _rows(d) == [wanted])
    wait.until(lambda d: _row(d, wanted).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), wanted))
    driver.find_element(By.ID, "resolve").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "Status: resolved"))
    wait.until(lambda d: _rows(d) == [])  # the working queue holds no resolved case


def _see_the_rating_and_reopen(driver, wanted: str) -> None:
    wait = waiting(driver)
    Select(driver.find_element(By.ID, "filter-status")).select_by_value("resolved")
    wait.until(lambda d: _rows(d) == [wanted])
    assert "CSAT 4/5" in _row(driver, wanted).find_element(By.CSS_SELECTOR, "td.status").text
    wait.until(lambda d: _row(d, wanted).click() or True)
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-csat"), "Customer rating (CSAT): 4/5"))
    assert driver.find_element(By.ID, "case-csat-comment").text == "Customer's comment: <b>빨랐어요</b> 감사합니다"
    assert driver.find_element(By.ID, "reopen").is_displayed()
    assert not driver.find_element(By.ID, "reply-form").is_displayed()
    driver.find_element(By.ID, "reopen").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-meta"), "Status: open"))
    wait.until(lambda d: _rows(d) == [])


async def test_an_agent_finds_a_case_by_txid_sees_its_rating_once_resolved_and_reopens_it(sqlite_url, tmp_path):
    require_chromium()
    async with running_desk(sqlite_url) as server:
        store = context_of(server).store
        wanted = store.open_case(
            intent="withdrawal_missing",
            priority=2,
            channel="telegram",
            sender_id="tg:6161:6161",
            summary="출금이 안 됐어요",
            details={"txid": TXID, "coin": "ETH"},
            transcript=[TranscriptLine(role="customer", text="출금이 안 됐어요")],
            language="ko",
        )
        others = [open_case(server, sender_id=f"web-{n}").id for n in range(2)]
        driver = await asyncio.to_thread(chromium, tmp_path / "profile")
        try:
            await asyncio.to_thread(_search_by_txid_and_resolve, driver, origin(server), wanted.id, others)
            store.rate(wanted.id, 4)  # the customer answered the rating question, and commented (shown as text)
            store.comment_on_rating(wanted.id, "<b>빨랐어요</b> 감사합니다")
            await asyncio.to_thread(_see_the_rating_and_reopen, driver, wanted.id)
        finally:
            await asyncio.to_thread(close, driver, tmp_path / "profile")
        actions = [(e.actor, e.action) for e in context_of(server).desk.audit.entries(wanted.id)]
        assert actions == [("alice", "resolve"), ("alice", "reopen")]
