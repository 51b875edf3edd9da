"""TelegramSender and the per-chat rate limiter, with real PTB against the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.error import BadRequest, TimedOut

from connectors.telegram.ratelimit import PerChatRateLimiter, SlidingWindow
from connectors.telegram.sender import Button, FileTooLarge, TelegramSender, split_text
from connectors.telegram.settings import TelegramSettings
from tests.auxil.fake_telegram import BOT_USER, FakeTelegram

TOKEN = "123:TEST"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def make_sender(fake: FakeTelegram, **limits: float | SlidingWindow) -> TelegramSender:
    limiter = PerChatRateLimiter(**{"per_chat_interval": 0.0, **limits})  # type: ignore[arg-type]
    return TelegramSender.create(TOKEN, base_url=fake.base_url, rate_limiter=limiter, timeout=2.0)


async def test_start_learns_the_bot_once(fake: FakeTelegram) -> None:
    async with make_sender(fake) as sender:
        me = await sender.start()
        assert me.username == BOT_USER["username"]
    assert len(fake.calls_to("getMe")) == 1
    assert fake.calls[0].token == TOKEN


async def test_text_is_html_escaped(fake: FakeTelegram) -> None:
    async with make_sender(fake) as sender:
        await sender.send_text(42, "1 < 2 & <b>not bold</b>")
    call = fake.calls_to("sendMessage")[0]
    assert call.params["text"] == "1 &lt; 2 &amp; &lt;b&gt;not bold&lt;/b&gt;"
    assert call.params["parse_mode"] == "HTML"


async def test_buttons_become_an_inline_keyboard(fake: FakeTelegram) -> None:
    buttons = [Button("Yes", "/affirm"), Button("No", "/deny"), Button("Help centre", url="https://example.com/help")]
    async with make_sender(fake) as sender:
        await sender.send_text(42, "Is that right?", buttons)
    markup = fake.calls_to("sendMessage")[0].params["reply_markup"]
    assert markup == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "/affirm"}, {"text": "No", "callback_data": "/deny"}],
            [{"text": "Help centre", "url": "https://example.com/help"}],
        ]
    }


def test_callback_data_over_64_bytes_is_refused() -> None:
    from connectors.telegram.sender import keyboard

    with pytest.raises(ValueError, match="64 bytes"):
        keyboard([Button("x", "/inform" + "x" * 60)])


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "word " * 300  # 1500 chars
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = split_text(text)
    assert all(len(p) <= 4096 for p in parts)
    assert parts == ["\n\n".join([paragraph.strip()] * 2), "\n\n".join([paragraph.strip()] * 2)]
    lines = "\n".join(["line of text"] * 700)
    parts = split_text(lines)
    assert all(len(p) <= 4096 for p in parts) and all(not p.startswith("\n") for p in parts)
    assert "\n".join(parts) == lines
    words = " ".join(["token"] * 1500)
    assert " ".join(split_text(words)) == words
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_text("short") == ["short"]


async def test_long_text_is_sent_in_parts_with_buttons_on_the_last(fake: FakeTelegram) -> None:
    text = "\n\n".join(["paragraph " * 200] * 5)
    async with make_sender(fake) as sender:
        sent = await sender.send_text(42, text, [Button("OK", "/affirm")])
    calls = fake.calls_to("sendMessage")
    assert len(sent) == len(calls) >= 2
    assert all(len(c.params["text"]) <= 4096 for c in calls)
    assert "reply_markup" in calls[-1].params and all("reply_markup" not in c.params for c in calls[:-1])


async def test_retry_after_on_one_chat_does_not_stall_another(fake: FakeTelegram) -> None:
    fake.rate_limit(chat_id=1, retry_after=1)
    async with make_sender(fake) as sender:
        started = time.monotonic()
        slow = asyncio.create_task(sender.send_text(1, "to the limited chat"))
        await asyncio.sleep(0.05)
        await sender.send_text(2, "to another chat")
        other_done = time.monotonic() - started
        await slow
        slow_done = time.monotonic() - started
    assert other_done < 0.9  # the paused chat is released only after 1 s
    assert slow_done >= 1.0
    assert len(fake.calls_to("sendMessage", 1)) == 2  # the 429, then the retry
    assert fake.sent_texts(1) == ["to the limited chat", "to the limited chat"]


async def test_retry_after_is_obeyed_for_that_chat(fake: FakeTelegram) -> None:
    fake.rate_limit(chat_id=5, retry_after=1)
    async with make_sender(fake) as sender:
        await sender.send_text(5, "first")
        await sender.send_text(5, "second")
    first_try, retry, second = fake.calls_to("sendMessage", 5)
    assert retry.at - first_try.at >= 1.0
    assert second.params["text"] == "second"


async def test_per_chat_interval_spaces_messages_to_one_chat(fake: FakeTelegram) -> None:
    async with make_sender(fake, per_chat_interval=0.4) as sender:
        await sender.start()  # connection set up, so the timings below are the limiter's
        await asyncio.gather(sender.send_text(9, "a"), sender.send_text(9, "b"), sender.send_text(10, "c"))
    to_nine = fake.calls_to("sendMessage", 9)
    assert to_nine[1].at - to_nine[0].at >= 0.3
    assert abs(fake.calls_to("sendMessage", 10)[0].at - to_nine[0].at) < 0.3


async def test_group_and_overall_windows(fake: FakeTelegram) -> None:
    async with make_sender(fake, group_limit=2, group_period=0.4, overall_limit=3, overall_period=0.3) as sender:
        await asyncio.gather(*(sender.send_text(-100, f"g{i}") for i in range(3)))
        group = fake.calls_to("sendMessage", -100)
        assert group[2].at - group[0].at >= 0.3
        started = time.monotonic()
        await asyncio.gather(*(sender.send_text(100 + i, "x") for i in range(4)))
        assert time.monotonic() - started >= 0.2


async def test_typing_takes_only_budget_no_message_waits_for(fake: FakeTelegram) -> None:
    """During a backlog "typing..." would take the sends the waiting replies need: it is skipped then."""
    async with make_sender(fake, overall_limit=4, overall_period=0.5) as sender:  # PTB's getMe takes one
        assert await sender.typing(1) is True  # budget to spare: shown
        messages = asyncio.gather(*(sender.send_text(100 + i, "x") for i in range(5)))  # 3 of these wait
        await fake.wait_for("sendMessage", count=2)
        assert await sender.typing(2) is False  # messages wait for the budget: skipped, no call
        await messages
        assert [call.chat_id for call in fake.calls_to("sendChatAction")] == [1]
        sent = [call.at for call in fake.calls_to("sendMessage")]
        assert sent[-1] - sent[0] < 0.9, "the messages waited one window for their budget, not two"
        await asyncio.sleep(0.5)  # the window empties
        await sender.typing(3)
    assert [call.chat_id for call in fake.calls_to("sendChatAction")] == [1, 3]


async def test_past_the_free_budget_messages_go_at_once_as_paid_broadcasts(fake: FakeTelegram) -> None:
    """A bot that pays for broadcasts sends past its free budget at once, within the paid budget; then it waits."""
    async with make_sender(fake, overall_limit=3, overall_period=1.0, paid=SlidingWindow(2, 1.0)) as sender:
        started = time.monotonic()  # PTB's getMe took one of the free sends
        await asyncio.gather(*(sender.send_text(100 + i, "x") for i in range(5)))
    calls = fake.calls_to("sendMessage")
    assert sorted(call.chat_id or 0 for call in calls) == [100, 101, 102, 103, 104]
    assert sum(call.paid_broadcast for call in calls) == 2
    paid_at = max(call.at for call in calls if call.paid_broadcast)
    waited = [call for call in calls if call.at - paid_at > 0.3]
    assert len(waited) == 1 and not waited[0].paid_broadcast, "the fifth waited for the free budget, unpaid"
    assert paid_at - started < 0.3, "the paid ones did not wait"


async def test_a_refused_paid_broadcast_goes_within_the_free_budget(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's Stars ran out: Telegram refuses the paid send; it goes unpaid, and so do the next for a while."""
    fake.refuse(method="sendMessage", code=400, description="Bad Request: not enough Stars", paid_only=True)
    async with make_sender(fake, overall_limit=2, overall_period=0.5, paid=SlidingWindow(5, 1.0)) as sender:
        with caplog.at_level(logging.ERROR, "connectors.telegram.ratelimit"):
            await asyncio.gather(*(sender.send_text(200 + i, "x") for i in range(3)))
        await sender.send_text(300, "later")
    assert "refused a paid broadcast" in caplog.text
    calls = fake.calls_to("sendMessage")
    delivered = sorted(call.chat_id or 0 for call in calls if not call.paid_broadcast)
    assert delivered == [200, 201, 202, 300], "every message was sent once without the flag"
    assert 1 <= sum(call.paid_broadcast for call in calls) <= 2, "only the tries in flight before the refusal paid"
    assert not any(call.paid_broadcast for call in fake.calls_to("sendMessage", 300))


async def test_a_400_that_is_the_messages_own_does_not_stop_the_bot_paying(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused paid and unpaid alike (chat not found), the 400 is the message's: raised, and paying goes on."""
    fake.refuse(700, code=400, description="Bad Request: chat not found")
    async with make_sender(fake, overall_limit=2, overall_period=0.5, paid=SlidingWindow(5, 1.0)) as sender:
        await sender.send_text(699, "free")  # with PTB's getMe, the free budget is full
        with pytest.raises(BadRequest), caplog.at_level(logging.ERROR, "connectors.telegram.ratelimit"):
            await sender.send_text(700, "nobody there")
    tries = fake.calls_to("sendMessage", 700)
    assert [call.paid_broadcast for call in tries] == [True, False], "paid, then once unpaid"
    assert "refused a paid broadcast" not in caplog.text, "paying was not stopped for the message's own 400"


async def test_the_bot_pays_for_broadcasts_only_when_configured_to(fake: FakeTelegram) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url}
    env["TELEGRAM_OVERALL_SENDS_PER_SECOND"] = "2"
    for paid, chats in (("0", range(500, 504)), ("3", range(600, 604))):
        settings = TelegramSettings.from_env({**env, "TELEGRAM_PAID_SENDS_PER_SECOND": paid})
        async with TelegramSender.from_settings(settings) as sender:  # getMe takes one of the two free sends
            await asyncio.gather(*(sender.send_text(chat, "x") for chat in chats))
    assert not any(call.paid_broadcast for chat in range(500, 504) for call in fake.calls_to("sendMessage", chat))
    assert sum(call.paid_broadcast for chat in range(600, 604) for call in fake.calls_to("sendMessage", chat)) >= 2


async def test_timed_out_send_is_not_resent(fake: FakeTelegram) -> None:
    fake.stall("sendMessage", 1.5)
    sender = TelegramSender.create(TOKEN, base_url=fake.base_url, timeout=0.5)
    async with sender:
        with pytest.raises(TimedOut):
            await sender.send_text(3, "maybe delivered")
    await asyncio.sleep(1.2)
    assert len(fake.calls_to("sendMessage", 3)) == 1


async def test_typing_callback_answer_and_keyboard_removal(fake: FakeTelegram) -> None:
    async with make_sender(fake) as sender:
        await sender.typing(4)
        await sender.answer_callback("cbq-1")
        await sender.clear_buttons(4, 17)
    assert fake.calls_to("sendChatAction")[0].params["action"] == "typing"
    assert fake.calls_to("answerCallbackQuery")[0].params["callback_query_id"] == "cbq-1"
    edit = fake.calls_to("editMessageReplyMarkup")[0].params
    assert edit["message_id"] == "17" and "reply_markup" not in edit


async def test_photo_and_document_upload(fake: FakeTelegram, tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 report")
    async with make_sender(fake) as sender:
        await sender.send_document(4, report, caption="Your <export>")
        await sender.send_photo(4, b"\x89PNG fake", caption="chart")
    document = fake.calls_to("sendDocument")[0].params
    assert document["document"] == b"%PDF-1.4 report" and document["document_name"] == "report.pdf"
    assert document["caption"] == "Your &lt;export&gt;"
    assert fake.calls_to("sendPhoto")[0].params["photo"] == b"\x89PNG fake"


async def test_download_through_get_file_with_size_limit(fake: FakeTelegram, tmp_path: Path) -> None:
    small = fake.add_file(b"x" * 10, "documents/file_1.pdf")
    large = fake.add_file(b"x" * 100, "documents/file_2.pdf")
    async with make_sender(fake) as sender:
        size = await sender.download(small, tmp_path / "a.pdf", max_bytes=50)
        with pytest.raises(FileTooLarge):
            await sender.download(large, tmp_path / "b.pdf", max_bytes=50)
    assert size == 10 and (tmp_path / "a.pdf").read_bytes() == b"x" * 10
    assert not (tmp_path / "b.pdf").exists()
    assert [c.params["file_path"] for c in fake.calls_to("download")] == ["documents/file_1.pdf"]


async def test_keep_typing_repeats_while_the_bot_thinks_and_stops_after(fake: FakeTelegram) -> None:
    async with make_sender(fake) as sender:
        async with sender.keep_typing(4, every=0.1, after=0):
            await asyncio.sleep(0.5)
        count = len(fake.calls_to("sendChatAction", 4))
        await asyncio.sleep(0.25)
    assert count >= 3
    assert len(fake.calls_to("sendChatAction", 4)) == count


async def test_keep_typing_stops_when_a_send_in_flight_loses_the_cancellation(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a timeout racing the cancel inside the HTTP or Redis client can swallow it: the
    block must still end at once, and no typing action may follow (it held the chat ~60 s before)."""
    sent: list[float] = []

    async def send_that_swallows_cancel(chat_id: int | str) -> None:
        sent.append(time.monotonic())
        with contextlib.suppress(asyncio.CancelledError):  # the cancellation is lost here
            await asyncio.sleep(0.3)

    async with make_sender(fake) as sender:
        monkeypatch.setattr(sender, "typing", send_that_swallows_cancel)

        async def turn() -> float:
            async with sender.keep_typing(4, every=0.05, after=0):
                await asyncio.sleep(0.1)
            return time.monotonic()

        block = asyncio.create_task(turn())
        done, _ = await asyncio.wait({block}, timeout=5.0)
        assert done, "the block still waits for a typing loop that lost its cancellation"
        left = block.result()
        await asyncio.sleep(0.3)  # six intervals: a loop that outlived its cancellation would have sent again
    assert len(sent) == 1 and left - sent[0] < 1.5


async def test_idle_chat_state_is_forgotten(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.telegram.ratelimit.MAX_TRACKED_CHATS", 2)
    limiter = PerChatRateLimiter(per_chat_interval=0.0)
    async with TelegramSender.create(TOKEN, base_url=fake.base_url, rate_limiter=limiter) as sender:
        for chat in (1, 2, 3, -4):
            await sender.send_text(chat, "hi")
    assert len(limiter._chats) <= 2
