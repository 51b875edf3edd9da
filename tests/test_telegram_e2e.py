"""End to end on Telegram: the trained bot in `rasa run`, polling a fake Bot API server.

The same processes `make run` starts with only ``TELEGRAM_BOT_TOKEN`` set: the channel
polls ``getUpdates``, the bot answers through ``sendMessage``, cases land in the store,
and a restart in the middle of a conversation loses nothing.
"""

from __future__ import annotations

import asyncio
import html
import re
from contextlib import contextmanager

import pytest
from mnemonic import Mnemonic

from bot.cases.database import make_engine
from bot.cases.helpful_articles import HelpfulArticles
from bot.cases.store import CaseStore
from bot.helpcenter.library import read_library
from bot.helpcenter.settings import HelpCenterSettings
from tests.auxil.fake_telegram import BOT_USER, FakeTelegram, private_message
from tests.auxil.rasa_stack import rasa_stack
from tests.auxil.waiting import until

pytestmark = pytest.mark.slow
CHAT = 5550001
TOKEN = "123456:customer-bot"
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")
SEED = Mnemonic("english").to_mnemonic(bytes(range(60, 76)))

BOT_SECONDS = 60.0  # how long each wait may take


@contextmanager
def _bot(tmp_path, database_url: str, fake: FakeTelegram):
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url, "TELEGRAM_SWEEP_SECONDS": "1",
           "TELEGRAM_TYPING_AFTER_SECONDS": "0"}
    with rasa_stack(tmp_path, database_url, extra_env=env) as stack:
        yield stack


async def test_p1_conversation_secret_and_restart_over_telegram(tmp_path):
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

            fake.queue_update(
                {"message": private_message(CHAT, "someone hacked my account and withdrew all my BTC", message_id=2)}
            )
            first = await until(lambda: next((t for t in texts()[greeted:] if CASE_ID.search(t)), None), BOT_SECONDS)
            case = store.get(CASE_ID.search(str(first)).group())
            assert (case.channel, case.sender_id, case.priority, case.intent) == (
                "telegram",
                sender,
                1,
                "suspected_theft",
            )
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
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)
    engine.dispose()


def _press(chat: int, query_id: str, pressed: dict) -> dict:
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


async def test_search_over_telegram_answers_in_the_customers_language_and_yes_records_the_article(tmp_path):
    url = f"sqlite:///{tmp_path / 'support.db'}"
    engine = make_engine(url)
    chat = CHAT + 1
    korean = read_library(HelpCenterSettings()).get("ko", "withdrawal-fees")
    async with FakeTelegram() as fake:
        stack = _bot(tmp_path, url, fake)
        await asyncio.to_thread(stack.__enter__)
        try:
            fake.queue_update({"message": private_message(chat, "/search 출금 수수료 얼마예요", message_id=1)})
            sent = lambda: [c.params for c in fake.calls_to("sendMessage", chat)]  # noqa: E731
            (asked,) = await until(lambda: [p for p in sent() if p.get("reply_markup")], BOT_SECONDS)
            answer = " ".join(fake.sent_texts(chat))
            assert html.escape(korean.summary, quote=False) in answer and "/help/ko/withdrawal-fees" in answer
            assert asked["text"] == "문제가 해결되었나요?"
            assert [b["text"] for b in asked["reply_markup"]["inline_keyboard"][0]] == ["네, 해결됐어요", "아니요"]

            fake.queue_update({"callback_query": _press(chat, "cbq-yes", asked)})
            helpful = HelpfulArticles(engine)
            assert await until(helpful.counts, BOT_SECONDS) == {("withdrawal-fees", "ko"): 1}
            await until(lambda: "도움이 되었다니 다행입니다" in " ".join(fake.sent_texts(chat)), BOT_SECONDS)
            assert CaseStore(engine).latest_case("telegram", f"tg:{chat}:{chat}") is None, "solved: no case"
        finally:
            await asyncio.to_thread(stack.__exit__, None, None, None)
    engine.dispose()
