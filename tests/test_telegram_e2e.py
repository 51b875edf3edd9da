"""End to end on Telegram: the trained bot in `rasa run`, polling a fake Bot API server.

The same processes `make run` starts with only ``TELEGRAM_BOT_TOKEN`` set: the channel
polls ``getUpdates``, the bot answers through ``sendMessage``, cases land in the store (a
P1 reaches the Security team's queue on the desk, with a browser notification), and a
restart in the middle of a conversation loses nothing.
"""

from __future__ import annotations

import asyncio
import html
import time
from contextlib import contextmanager

import pytest
from mnemonic import Mnemonic
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bot.cases.database import make_engine
from bot.cases.helpful_articles import HelpfulArticles
from bot.cases.store import CaseStore
from bot.helpcenter.library import read_library
from bot.helpcenter.settings import HelpCenterSettings
from tests.auxil.agent_desk import AGENT, agent_desk
from tests.auxil.desk_app import PASSWORDS, origin, running_desk
from tests.auxil.desk_browser import (
    RECORD_NOTIFICATIONS,
    allow_notifications,
    chromium,
    close,
    notified,
    require_chromium,
    sign_in,
    waiting,
)
from tests.auxil.fake_telegram import BOT_USER, FakeTelegram, private_message
from tests.auxil.languages import CASE_ID, CUSTOMERS, Customer, questions, says
from tests.auxil.rasa_stack import rasa_stack
from tests.auxil.telegram_harness import domain_text, test_domain
from tests.auxil.waiting import until

pytestmark = pytest.mark.slow
CHAT = 5550001
TOKEN = "123456:customer-bot"
SEED = Mnemonic("english").to_mnemonic(bytes(range(60, 76)))

BOT_SECONDS = 60.0  # how long each wait may take


@contextmanager
def _bot(tmp_path, database_url: str, fake: FakeTelegram):
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_SWEEP_SECONDS": "1",
           "TELEGRAM_TYPING_AFTER_SECONDS": "0"}
    with rasa_stack(tmp_path, database_url, extra_env=env) as stack:
        yield stack


def _watch_the_security_queue(driver, base: str) -> None:
    """Alice signs in, with notifications allowed, and looks at her team's queue (Security)."""
    allow_notifications(driver, base)
    wait = sign_in(driver, base, "alice", PASSWORDS["alice"])
    driver.execute_script(RECORD_NOTIFICATIONS)
    Select(driver.find_element(By.ID, "filter-team")).select_by_value("Security")
    wait.until(lambda d: d.find_element(By.ID, "queue-empty").is_displayed())


def _p1_notified_in_the_security_queue(driver, case_id: str) -> None:
    wait = waiting(driver)
    row = f'tr[data-case-id="{case_id}"]'
    wait.until(lambda d: notified(d) == [f"New P1: {case_id}"])
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, row + " .team").text == "Security")
    customer = driver.find_element(By.CSS_SELECTOR, row + " .customer-name")
    assert (customer.text, customer.get_attribute("title")) == ("Ada", f"tg:{CHAT}")  # the Telegram profile's name
    assert driver.find_element(By.CSS_SELECTOR, row + " td.priority").text == "P1"


@pytest.mark.browser
async def test_p1_conversation_secret_and_restart_over_telegram(tmp_path):
    require_chromium()
    url = f"sqlite:///{tmp_path / 'support.db'}"
    engine = make_engine(url)
    store = CaseStore(engine)
    sender = f"tg:{CHAT}:{CHAT}"
    async with FakeTelegram() as fake:
        texts = lambda: fake.sent_texts(CHAT)  # noqa: E731
        stack = _bot(tmp_path, url, fake)
        await asyncio.to_thread(stack.__enter__)
        try:
            fake.queue_update({"message": private_message(CHAT, "/start", message_id=1)})
            await until(lambda: texts(), BOT_SECONDS)
            greeted = len(texts())

            entered = time.monotonic()
            async with running_desk(url) as desk:  # an agent watches the desk while the P1 comes in
                driver = await asyncio.to_thread(chromium, tmp_path / "profile")
                try:
                    await asyncio.to_thread(_watch_the_security_queue, driver, origin(desk))
                    watching = time.monotonic()
                    fake.queue_update(
                        {"message": private_message(CHAT, "someone hacked my account and withdrew all my BTC",
                                                    message_id=2)}
                    )  # fmt: skip
                    first = await until(
                        lambda: next((t for t in texts()[greeted:] if CASE_ID.search(t)), None), BOT_SECONDS
                    )
                    case = store.get(CASE_ID.search(str(first)).group())
                    assert (case.channel, case.sender_id, case.priority, case.intent) == (
                        "telegram",
                        sender,
                        1,
                        "suspected_theft",
                    )
                    answered = time.monotonic()
                    await asyncio.to_thread(_p1_notified_in_the_security_queue, driver, case.id)
                finally:
                    await asyncio.to_thread(close, driver, tmp_path / "profile")
            added = (watching - entered) + (time.monotonic() - answered)
            print(f"\nthe desk and its browser added {added:.1f} s to this test")
            assert fake.calls_to("sendChatAction", CHAT), "typing is shown while the bot thinks"

            before = len(texts())
            fake.queue_update({"message": private_message(CHAT, f"my seed is {SEED}", message_id=3)})
            await until(
                lambda: any("never share" in t.lower() or "rotate" in t.lower() for t in texts()[before:]), BOT_SECONDS
            )
            await asyncio.sleep(3)  # the rest of the bot's answer
            after_secret = len(texts())
            transcript = " ".join(line.text for line in store.transcript(case.id))
            leaked = " ".join(SEED.split()[3:7])  # four words in a row: never in ordinary replies
            assert leaked not in transcript and "[REDACTED]" in transcript
            assert not any(leaked in t for t in texts()), "the bot never echoes a secret"
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)

        # A restart in the middle of the conversation: same database, new processes.
        stack = _bot(tmp_path, url, fake)
        await asyncio.to_thread(stack.__enter__)
        try:
            await asyncio.sleep(3)  # the restarted channel resumes its inbox and outbox
            assert len(texts()) == after_secret, "nothing is sent twice after a restart"
            fake.queue_update({"message": private_message(CHAT, "it started yesterday around 3pm", message_id=4)})
            await until(lambda: len(texts()) > after_secret, BOT_SECONDS)
            await until(lambda: store.get(case.id).details, BOT_SECONDS)
            assert store.active_case("telegram", sender).id == case.id, "the conversation continued on the same case"
            await _resolved_rated_by_a_tap_and_commented(fake, store, agent_desk(engine, tmp_path), case.id)
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)
    engine.dispose()


def _sent_saying(fake: FakeTelegram, chat: int, name: str, language: str = "en") -> dict | None:
    """The parameters of the last message to ``chat`` that says domain response ``name``."""
    calls = fake.calls_to("sendMessage", chat)
    said = [c.params for c in calls if says(c.params["text"], name, language, escaped=True)]
    return said[-1] if said else None


async def _resolved_rated_by_a_tap_and_commented(fake: FakeTelegram, store: CaseStore, desk, case_id: str) -> None:
    """The agent resolves; the request has 1-5 buttons, a tap rates, the thanks offers Skip, the next words comment."""
    await desk.resolve(AGENT, case_id)
    request = await until(lambda: _sent_saying(fake, CHAT, "utter_case_resolved_rate"), BOT_SECONDS)
    keyboard = request["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["1", "2", "3", "4", "5"]]
    fake.queue_update(_press(CHAT, "en", request, "4"))
    thanks = await until(lambda: _sent_saying(fake, CHAT, "utter_rating_thanks"), BOT_SECONDS)
    assert store.get(case_id).rating == 4
    assert [b["text"] for row in thanks["reply_markup"]["inline_keyboard"] for b in row] == ["Skip"]
    fake.queue_update({"message": private_message(CHAT, "Quick and friendly help, thank you!", message_id=5)})
    await until(lambda: _sent_saying(fake, CHAT, "utter_rating_comment_thanks"), BOT_SECONDS)
    assert store.get(case_id).rating_comment == "Quick and friendly help, thank you!"  # redacted: test_gate.py
    assert store.latest_case("telegram", f"tg:{CHAT}:{CHAT}").id == case_id, "a comment opens no case"


def _from(chat: int, language: str) -> dict:
    """The customer as Telegram describes them: a Korean or Chinese app."""
    return {"id": chat, "is_bot": False, "first_name": "Min", "language_code": language}


def _press(chat: int, language: str, sent: dict, title: str) -> dict:
    """A press of the button titled ``title`` on the bot's message sent with the parameters ``sent``."""
    [button] = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row if b["text"] == title]
    message = {"message_id": 1, "date": 1, "chat": {"id": chat, "type": "private"}, "from": BOT_USER,
               "text": sent["text"], "reply_markup": sent["reply_markup"]}  # fmt: skip
    return {"callback_query": {"id": f"press-{chat}", "from": _from(chat, language), "chat_instance": str(chat),
                               "data": button["callback_data"], "message": message}}  # fmt: skip


async def _theft_is_p1_in_the_customers_language(fake: FakeTelegram, store: CaseStore, chat: int, customer: Customer):
    language = customer.language
    fake.queue_update({"message": private_message(chat, customer.theft, **{"from": _from(chat, language)})})
    steps = await until(lambda: next((t for t in fake.sent_texts(chat)
                                      if says(t, "utter_security_steps", language, escaped=True)), None), BOT_SECONDS)
    case = store.get(CASE_ID.search(steps).group())
    assert (case.channel, case.sender_id, case.intent, case.priority, case.language) == (
        "telegram", f"tg:{chat}:{chat}", "suspected_theft", 1, language)  # fmt: skip


async def _a_theft_report_after_a_typed_rating_is_no_comment(
    fake: FakeTelegram, store: CaseStore, desk, chat: int, customer: Customer
) -> None:
    """A typed 1-5 still rates; a theft report in the comment window gets the P1 flow, not the comment's place.

    The case was opened by an agent's hand (no form of the bot's left open on the conversation).
    """
    key, language = f"tg:{chat}:{chat}", customer.language
    rated = store.open_case(
        intent="account_change", priority=3, channel="telegram", sender_id=key, summary="email", details={},
        language=language,
    )  # fmt: skip
    await desk.resolve(AGENT, rated.id)
    await until(lambda: _sent_saying(fake, chat, "utter_case_resolved_rate", language), BOT_SECONDS)
    customer_says = {"from": _from(chat, language)}
    fake.queue_update({"message": private_message(chat, "2", message_id=30, **customer_says)})
    await until(lambda: _sent_saying(fake, chat, "utter_rating_thanks", language), BOT_SECONDS)
    fake.queue_update({"message": private_message(chat, customer.theft, message_id=31, **customer_says)})
    again = await until(lambda: (c := store.active_case("telegram", key)) and c.id != rated.id and c, BOT_SECONDS)
    assert (again.intent, again.priority) == ("suspected_theft", 1)
    assert store.get(rated.id).rating == 2 and store.get(rated.id).rating_comment == ""
    assert _sent_saying(fake, chat, "utter_rating_comment_thanks", language) is None


async def _withdrawal_is_read_back_and_opened_in_the_customers_language(
    fake: FakeTelegram, store: CaseStore, chat: int, customer: Customer
):
    language = customer.language
    asked = [*questions(), "utter_read_back_funds"]

    def next_question(since: int) -> tuple[int, dict] | None:
        """The bot's next question (or the read-back) from message ``since`` on: its turn ended there."""
        calls = fake.calls_to("sendMessage", chat)
        return next(((i, c.params) for i, c in enumerate(calls[since:], since)
                     if any(says(c.params["text"], name, language, escaped=True) for name in asked)), None)

    fake.queue_update({"message": private_message(chat, customer.withdrawal, message_id=1,
                                                  **{"from": _from(chat, language)})})  # fmt: skip
    index, sent = await until(lambda: next_question(0), BOT_SECONDS)
    assert any(says(t, "utter_withdrawal_status_info", language, escaped=True) for t in fake.sent_texts(chat))
    for message_id in range(2, 12):
        if says(sent["text"], "utter_read_back_funds", language, escaped=True):
            break
        fake.queue_update({"message": private_message(chat, customer.dont_know, message_id=message_id,
                                                      **{"from": _from(chat, language)})})  # fmt: skip
        index, sent = await until(lambda since=index + 1: next_question(since), BOT_SECONDS)
    else:
        raise AssertionError(f"no read-back in {language}: {fake.sent_texts(chat)}")
    yes = next(r for r in test_domain().responses["utter_read_back_funds"]
               if language in {c.get("value") for c in r.get("condition") or []})["buttons"][0]["title"]
    assert not CASE_ID.search(" ".join(fake.sent_texts(chat))), "a P2 case is confirmed before it is opened"
    fake.queue_update(_press(chat, language, sent, yes))
    opened = await until(lambda: next((t for t in fake.sent_texts(chat)
                                       if says(t, "utter_case_opened", language, escaped=True)), None), BOT_SECONDS)
    case = store.get(CASE_ID.search(opened).group())
    assert (case.channel, case.intent, case.priority, case.language) == ("telegram", "withdrawal_stuck", 2, language)
    assert domain_text("utter_case_opened", "en").split("{")[0] not in opened, "no English next to the customer's"


async def test_korean_and_chinese_customers_get_theft_withdrawal_and_search_handled_in_their_language(tmp_path):
    """One stack for every scenario (a stack start costs ~25 s): theft and withdrawal in ko and zh, a search in ko."""
    url = f"sqlite:///{tmp_path / 'support.db'}"
    engine = make_engine(url)
    store = CaseStore(engine)
    async with FakeTelegram() as fake:
        stack = _bot(tmp_path, url, fake)
        await asyncio.to_thread(stack.__enter__)
        try:
            desk = agent_desk(engine, tmp_path)
            for offset, customer in enumerate(CUSTOMERS.values()):
                await _theft_is_p1_in_the_customers_language(fake, store, CHAT + 10 + offset, customer)
                await _withdrawal_is_read_back_and_opened_in_the_customers_language(
                    fake, store, CHAT + 20 + offset, customer)
            await _search_is_answered_in_korean_and_yes_records_the_article(fake, engine, CHAT + 1)
            await _a_theft_report_after_a_typed_rating_is_no_comment(fake, store, desk, CHAT + 30, CUSTOMERS["ko"])
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)
    engine.dispose()


def _press_first_button(chat: int, query_id: str, pressed: dict) -> dict:
    """The customer presses the first button of a message the bot sent (Telegram sends the message along)."""
    keyboard = pressed["reply_markup"]["inline_keyboard"]
    return {
        "id": query_id,
        "from": {"id": chat, "is_bot": False, "first_name": "Minji"},
        "chat_instance": "ci",
        "data": keyboard[0][0]["callback_data"],
        "message": {"message_id": 99, "date": 1, "chat": {"id": chat, "type": "private"}, "from": BOT_USER,
                    "text": pressed["text"], "reply_markup": {"inline_keyboard": keyboard}},
    }  # fmt: skip


async def _search_is_answered_in_korean_and_yes_records_the_article(fake: FakeTelegram, engine, chat: int) -> None:
    korean = read_library(HelpCenterSettings()).get("ko", "withdrawal-fees")
    fake.queue_update({"message": private_message(chat, "/search 출금 수수료 얼마예요", message_id=1)})
    sent = lambda: [c.params for c in fake.calls_to("sendMessage", chat)]  # noqa: E731
    (asked,) = await until(lambda: [p for p in sent() if p.get("reply_markup")], BOT_SECONDS)
    answer = " ".join(fake.sent_texts(chat))
    assert html.escape(korean.summary, quote=False) in answer and "/help/ko/withdrawal-fees" in answer
    assert asked["text"].endswith("\n\n문제가 해결되었나요?")  # the answer and the question, one message
    assert [b["text"] for b in asked["reply_markup"]["inline_keyboard"][0]] == ["네, 해결됐어요", "아니요"]

    fake.queue_update({"callback_query": _press_first_button(chat, "cbq-yes", asked)})
    helpful = HelpfulArticles(engine)
    assert await until(helpful.counts, BOT_SECONDS) == {("withdrawal-fees", "ko"): 1}
    await until(lambda: "도움이 되었다니 다행입니다" in " ".join(fake.sent_texts(chat)), BOT_SECONDS)
    assert CaseStore(engine).latest_case("telegram", f"tg:{chat}:{chat}") is None, "solved: no case"
