"""Nothing lost, nothing twice: restarts, cut turns, the outbox, hangs, timeouts, 429 storms, the lease."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.cases.instances import Instance
from connectors.telegram.delivery import backoff_seconds, first_message, joined
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.storage import SENT, Claim, Inbox, Outbox, telegram_replies, telegram_updates
from tests.auxil.fake_telegram import FakeTelegram, _error, private_message
from tests.auxil.telegram_harness import ChannelHarness
from tests.auxil.waiting import until

pytestmark = pytest.mark.timeout(180)  # a hang fails in minutes, not after the suite-wide limit
CHAT = 6161
OPENED = {"text": "Case C-1 is open.", "utter_action": "utter_case_opened"}
NOBODY_ON_DUTY = {"text": "No agent is on duty right now.", "utter_action": "utter_no_agents_on_duty"}
WHICH_COIN = {"text": "Which coin was it?", "utter_action": "utter_ask_coin"}
DEAD = "a-host-that-died:5005"


def inbox_of(engine: Engine) -> Inbox:
    """The inbox as another process sees it (to store what arrived before a crash)."""
    return Inbox(engine, Instance(engine, "writer"))


def outbox_of(engine: Engine) -> Outbox:
    return Outbox(engine, Instance(engine, "writer"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def text_update(update_id: int, text: str, chat: int = CHAT) -> dict[str, object]:
    return {"update_id": update_id, "message": private_message(chat, text, message_id=update_id)}


async def test_stored_but_unprocessed_updates_are_resumed_at_start(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    harness = ChannelHarness(fake, sqlite_url, tmp_path)
    inbox = inbox_of(harness.engine)  # what the webhook stored before the process died
    for update_id, text in [(11, "first"), (12, "second")]:
        assert inbox.store(update_id, str(CHAT), text_update(update_id, text))
    async with harness:
        await harness.idle()
        assert harness.texts() == ["first", "second"]
        assert fake.sent_texts(CHAT) == ["You said: first", "You said: second"]
        assert inbox.status(11) == inbox.status(12) == "done"
        assert inbox.pending() == []


async def test_restart_mid_conversation_loses_nothing_and_repeats_nothing(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    async with ChannelHarness(fake, database_url, tmp_path) as first:
        assert (await first.post(text_update(21, "my deposit is missing")))[0] == 200
        await first.idle()
    inbox_of(first.engine).store(22, str(CHAT), text_update(22, "it was USDT"))  # stored, then the crash
    async with ChannelHarness(fake, database_url, tmp_path) as second:
        assert (await second.post(text_update(21, "my deposit is missing")))[0] == 200  # Telegram retries
        assert (await second.post(text_update(23, "on TRC20")))[0] == 200
        await second.idle()
    assert first.texts() == ["my deposit is missing"]
    assert second.texts() == ["it was USDT", "on TRC20"]
    assert fake.sent_texts(CHAT) == ["You said: my deposit is missing", "You said: it was USDT", "You said: on TRC20"]


async def test_a_turn_cut_after_its_first_reply_is_completed_without_repeating_it(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """The issue's lost questions: the form's question came after the first reply, and the crash took it."""
    first = await ChannelHarness(fake, database_url, tmp_path).start()
    cut = asyncio.Event()

    async def two_replies_then_crash(message: UserMessage) -> None:
        for reply in (OPENED, NOBODY_ON_DUTY):
            await message.output_channel.send_response(message.sender_id, reply)
        cut.set()
        await asyncio.sleep(3600)  # killed here, before the question and before Rasa saves the tracker

    first.on_new_message = two_replies_then_crash  # type: ignore[method-assign]
    await first.post(text_update(31, "my withdrawal is stuck"))
    await asyncio.wait_for(cut.wait(), timeout=30)
    await until(lambda: [r["status"] for r in outbox_of(first.engine).rows(CHAT)] == ["sent"] * 2, timeout=10)
    await first.crash()
    second = ChannelHarness(fake, database_url, tmp_path)

    async def replayed_on_another_path(message: UserMessage) -> None:
        """The case exists now and the no-agent notice went out once: the replay says less, then asks."""
        stuck = "stuck" in (message.text or "")
        for reply in [OPENED, WHICH_COIN] if stuck else [{"text": "Noted."}]:
            await message.output_channel.send_response(message.sender_id, reply)
        await second.save_turn(message)

    second.on_new_message = replayed_on_another_path  # type: ignore[method-assign]
    async with second:
        await second.idle()
        await second.post(text_update(32, "USDT"))
        await second.idle()
    # The cut turn's two replies went out together (after the wait for the rest of a hanging turn).
    assert fake.sent_texts(CHAT) == [f"{OPENED['text']}\n\n{NOBODY_ON_DUTY['text']}", WHICH_COIN["text"], "Noted."]
    row = inbox_of(second.engine).row(31)
    assert row is not None and row["status"] == "done" and row["attempts"] == 2


async def test_a_turn_rasa_finished_before_the_crash_is_not_run_again(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Rasa saved the tracker, the process died before marking the update done: no second turn."""
    async with ChannelHarness(fake, database_url, tmp_path) as first:
        await first.post(text_update(33, "hello"))
        await first.idle()
    with first.engine.begin() as conn:  # as if the crash came between Rasa's save and our mark
        conn.execute(
            update(telegram_updates).values(
                status="pending", payload=text_update(33, "hello"), claimed_by=DEAD, claimed_at=0.0, attempts=1
            )
        )
    async with ChannelHarness(fake, database_url, tmp_path) as second:
        await second.idle()
    assert second.received == []
    assert fake.sent_texts(CHAT) == ["You said: hello"]
    assert inbox_of(second.engine).status(33) == "done"


async def test_outbox_rows_resume_by_state(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    """Pending sends and sends abandoned by a dead process go out; the latter flagged as possible duplicates."""
    harness = ChannelHarness(fake, sqlite_url, tmp_path)
    rows = [
        ("pending", None, "never sent"),
        ("sending", DEAD, "claimed by a process that died"),
        ("sent", None, "already delivered"),
        ("failed", None, "refused by Telegram"),
    ]
    with harness.engine.begin() as conn:
        for status, holder, text in rows:
            conn.execute(
                insert(telegram_replies).values(
                    chat_id=CHAT,
                    body={"kind": "text", "text": text},
                    status=status,
                    claimed_by=holder,
                    claimed_at=0.0 if holder else None,
                    attempts=1 if holder else 0,
                    created_at=datetime.now(timezone.utc),
                )
            )
    async with harness:
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["never sent", "claimed by a process that died"]
        replies = outbox_of(harness.engine).rows(CHAT)
        assert [r["status"] for r in replies] == ["sent", "sent", "sent", "failed"]
        assert [r["possible_duplicate"] for r in replies] == [False, True, False, False]


async def test_a_timed_out_reply_is_sent_again_and_counted_as_a_possible_duplicate(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Telegram may have taken a send that timed out: resending may duplicate it, not resending may lose it."""
    env = {"TELEGRAM_REQUEST_TIMEOUT_SECONDS": "0.5"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as harness:
        fake.stall("sendMessage", 1.0)
        await harness.post(text_update(41, "slow network"))
        await harness.post(text_update(42, "next"))
        await fake.wait_for("sendMessage", count=3, chat_id=CHAT, timeout=10)
        await harness.idle()
        replies = outbox_of(harness.engine).rows(CHAT)
    assert fake.sent_texts(CHAT) == ["You said: slow network", "You said: slow network", "You said: next"]
    assert [r["status"] for r in replies] == ["sent", "sent"]
    assert [r["possible_duplicate"] for r in replies] == [True, False]
    assert outbox_of(harness.engine).counts()["possible_duplicate"] == 1


async def test_a_send_answered_with_a_page_that_is_not_the_bot_apis_is_sent_again_as_a_possible_duplicate(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """An outside review: a 200 with a proxy's HTML page marked the reply failed after one try, never retried."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        fake.garble("sendMessage")
        await harness.post(text_update(43, "through a proxy"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=10)
        await harness.idle()
        replies = outbox_of(harness.engine).rows(CHAT)
    assert [(r["status"], r["possible_duplicate"]) for r in replies] == [("sent", True)]


async def test_a_sent_reply_whose_record_fails_for_a_moment_is_recorded_not_sent_again(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """The send reached Telegram, then the database blinked: before, the row stayed ``sending`` until its
    claim ran out (minutes) and the customer got the answer twice."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        outbox = harness.runtime.delivery._outbox
        mark, blinks = outbox.mark, [OperationalError("UPDATE telegram_replies", {}, Exception("database is locked"))]

        def blinking_mark(ids: Any, status: str, **values: Any) -> None:
            if status == SENT and blinks:
                raise blinks.pop()
            mark(ids, status, **values)

        outbox.mark = blinking_mark  # type: ignore[method-assign]
        await harness.post(text_update(43, "is my deposit there?"))
        await until(lambda: [r["status"] for r in outbox_of(harness.engine).rows(CHAT)] == ["sent"], 15)
        await harness.idle()
        assert blinks == [] and fake.sent_texts(CHAT) == ["You said: is my deposit there?"]
        assert not outbox_of(harness.engine).rows(CHAT)[0]["possible_duplicate"]


def test_a_reply_waits_out_a_bot_api_outage_of_ten_minutes_before_it_is_failed() -> None:
    """An outside review: 8 tries gave up after about 125 s of 500s, and the replies were never sent."""
    attempts = TelegramSettings.from_env({}).max_send_attempts
    assert sum(backoff_seconds(attempt) for attempt in range(1, attempts)) > 600


async def test_429_storm_on_one_chat_does_not_stall_another(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        fake.rate_limit(chat_id=CHAT, retry_after=2, times=1)
        await harness.post(text_update(51, "storm"))
        await fake.wait_for("sendMessage", chat_id=CHAT)  # refused with a 429: this chat pauses 2 s
        await harness.post(text_update(52, "calm", chat=7))
        await harness.idle()
        storm, calm = fake.calls_to("sendMessage", CHAT), fake.calls_to("sendMessage", 7)
        assert [c.params["text"] for c in storm] == ["You said: storm"] * 2
        assert storm[1].at - storm[0].at >= 2.0  # retry_after obeyed for that chat
        assert calm[0].at < storm[1].at  # while the other chat was answered
        assert [r["status"] for r in outbox_of(harness.engine).rows(CHAT)] == ["sent"]


async def test_polling_without_a_webhook_url(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    fake.webhook = {"url": "https://old.example.com/hook"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, webhook=False) as harness:
        await fake.wait_for("getUpdates")
        assert fake.webhook == {}  # deleteWebhook first, or getUpdates would be refused
        fake.queue_update(text_update(61, "polled"))
        fake.queue_update(text_update(61, "polled"))  # the same update twice
        fake.queue_update(text_update(62, "again"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT)
        await harness.idle()
        assert harness.texts() == ["polled", "again"]
        status, body = await harness.get("/webhooks/telegram/")
        assert status == 200 and body["mode"] == "polling"


async def test_an_update_the_library_cannot_parse_neither_stalls_polling_nor_reaches_the_log(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by an outside test: one such update failed every getUpdates and was logged raw at CRITICAL."""
    seed = "legal winner thank year wave sausage worth useful legal winner thank yellow"
    poll = {"id": "p1", "question": seed, "options": [{"text": "a", "voter_count": 0}], "total_voter_count": 0,
            "is_closed": False, "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}  # fmt: skip
    async with ChannelHarness(fake, sqlite_url, tmp_path, webhook=False) as harness:
        await fake.wait_for("getUpdates")
        fake.queue_update({"update_id": 71, "message": private_message(CHAT + 1, None, message_id=1, poll=poll)})
        fake.queue_update(text_update(72, f"my seed is {seed}"))
        fake.queue_update(text_update(73, "after it"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=15)
        await harness.idle()
    assert harness.texts()[-1] == "after it"
    assert all("sausage" not in record.getMessage() for record in caplog.records)
    assert not [r for r in caplog.records if r.levelname == "CRITICAL"]


async def test_only_the_lease_holder_polls_and_another_takes_over(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    first = await ChannelHarness(fake, database_url, tmp_path, webhook=False, token="1:FIRST").start()
    await fake.wait_for("getUpdates")
    second = await ChannelHarness(
        fake, database_url, tmp_path, webhook=False, token="2:SECOND", env={"INSTANCE_ID": "second"}
    ).start()
    try:
        fake.queue_update(text_update(71, "who polls?"))
        await fake.wait_for("sendMessage", chat_id=CHAT)
        await asyncio.sleep(0.3)  # the second process had time to try
        assert {c.token for c in fake.calls_to("getUpdates")} == {"1:FIRST"}
        assert first.texts() == ["who polls?"] and second.texts() == []
    finally:
        await first.stop()
    try:
        fake.queue_update(text_update(72, "after the failover"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT)
        await second.idle()
        assert second.texts() == ["after the failover"]
        assert "2:SECOND" in {c.token for c in fake.calls_to("getUpdates")}
    finally:
        await second.stop()


async def test_a_reply_left_due_by_a_network_error_is_sent_later_without_new_activity(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        fake.rate_limit(chat_id=CHAT, retry_after=1, times=4)  # more 429s than the limiter retries
        await harness.post(text_update(81, "eventually"))
        await harness.idle()
        await fake.wait_for("sendMessage", count=5, chat_id=CHAT, timeout=15.0)  # retried with back-off
        await asyncio.sleep(0.1)
        assert [r["status"] for r in outbox_of(harness.engine).rows(CHAT)] == ["sent"]


async def test_rows_another_process_added_are_delivered(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    """The agent desk may record a reply in the outbox; the running channel sends it."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        outbox_of(harness.engine).add(CHAT, None, [{"kind": "text", "text": "An agent replied"}])
        await fake.wait_for("sendMessage", chat_id=CHAT, timeout=3.0)
        assert fake.sent_texts(CHAT) == ["An agent replied"]


async def test_a_crash_mid_send_resends_once_and_never_asks_the_bot_again(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """The one duplicate allowed: Telegram accepted the message, the process died before recording it."""
    first = await ChannelHarness(fake, sqlite_url, tmp_path).start()
    fake.stall("sendMessage", 5.0)  # accepted (recorded) by Telegram, answer never seen
    await first.post(text_update(91, "crash now"))
    await fake.wait_for("sendMessage", chat_id=CHAT)
    await first.crash()
    assert [r["status"] for r in outbox_of(first.engine).rows(CHAT)] == ["sending"]
    async with ChannelHarness(fake, sqlite_url, tmp_path) as second:  # the same instance: its claims come back at once
        await second.post(text_update(92, "after restart"))
        await second.idle()
        await fake.wait_for("sendMessage", count=3, chat_id=CHAT)
    assert first.texts() == ["crash now"] and second.texts() == ["after restart"]
    sent = fake.sent_texts(CHAT)
    duplicates = len(sent) - len(set(sent))
    assert sent == ["You said: crash now", "You said: crash now", "You said: after restart"]
    assert duplicates == 1 == outbox_of(second.engine).counts()["possible_duplicate"]
    assert inbox_of(second.engine).status(91) == "done"


async def test_two_webhook_instances_keep_a_chats_order(fake: FakeTelegram, database_url: str, tmp_path: Path) -> None:
    """Telegram may deliver a chat's next update to another instance while the first is busy."""
    first = await ChannelHarness(fake, database_url, tmp_path, reply_delay=0.5).start()
    second = await ChannelHarness(fake, database_url, tmp_path, env={"INSTANCE_ID": "second"}).start()
    try:
        assert (await first.post(text_update(101, "first question")))[0] == 200
        await asyncio.sleep(0.1)
        assert (await second.post(text_update(102, "follow-up")))[0] == 200
        await asyncio.gather(first.idle(), second.idle())
    finally:
        await first.stop()
        await second.stop()
    assert sorted(first.texts() + second.texts()) == ["first question", "follow-up"]  # each turn once, either instance
    assert fake.sent_texts(CHAT) == ["You said: first question", "You said: follow-up"]


async def test_images_documents_and_unsendable_bodies(fake: FakeTelegram, sqlite_url: str, tmp_path: Path) -> None:
    from connectors.telegram.output import bodies_for

    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        bodies = bodies_for(
            {"text": "Here", "image": "https://example.com/a.png", "attachment": "https://example.com/f.pdf"}
        )
        await harness.runtime.deliver(CHAT, None, [*bodies, {"kind": "hologram"}])
        await harness.runtime.deliver(CHAT, None, [{"kind": "text", "text": "still sending"}])
        await asyncio.sleep(0.5)  # sweeps run: a failed body is not retried
    assert fake.calls_to("sendPhoto")[0].params["photo"] == "https://example.com/a.png"
    assert fake.calls_to("sendDocument")[0].params["document"] == "https://example.com/f.pdf"
    assert fake.sent_texts(CHAT) == ["Here", "still sending"]
    assert [r["status"] for r in outbox_of(harness.engine).rows(CHAT)] == ["sent", "sent", "sent", "failed", "sent"]


async def test_an_instance_with_free_turn_slots_takes_work_another_received(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """Updates waiting for a busy instance's turn slot stay unclaimed; an idle instance takes them up and runs them."""
    one_slot = {"TELEGRAM_MAX_CONCURRENT_TURNS": "1", "TELEGRAM_SWEEP_SECONDS": "30"}  # the pickup, not the sweep
    busy = await ChannelHarness(fake, database_url, tmp_path, reply_delay=0.4, env=one_slot).start()
    idle_env = {**one_slot, "INSTANCE_ID": "idle"}
    idle = await ChannelHarness(fake, database_url, tmp_path, reply_delay=0.4, env=idle_env).start()
    chats = range(7001, 7009)
    try:
        for number, chat in enumerate(chats):
            assert (await busy.post(text_update(700 + number, f"question {number}", chat=chat)))[0] == 200
        inbox = inbox_of(busy.engine)
        await until(lambda: all(inbox.status(700 + n) == "done" for n in range(len(chats))), 30)
    finally:
        await busy.stop()
        await idle.stop()
    assert sorted(busy.texts() + idle.texts()) == sorted(f"question {n}" for n in range(len(chats)))  # each once
    assert len(idle.texts()) >= 2, (busy.texts(), idle.texts())
    for number, chat in enumerate(chats):
        assert fake.sent_texts(chat) == [f"You said: question {number}"]


async def test_a_chats_next_update_left_by_another_instance_follows_its_turn_at_once(
    fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    """The instance that ends a chat's turn schedules the chat's next update, which another instance stored."""
    slow_sweep = {"TELEGRAM_SWEEP_SECONDS": "30", "TELEGRAM_PICKUP_SECONDS": "30"}  # neither helps within the test
    first = await ChannelHarness(fake, database_url, tmp_path, reply_delay=0.5, env=slow_sweep).start()
    second = await ChannelHarness(fake, database_url, tmp_path, env={**slow_sweep, "INSTANCE_ID": "second"}).start()
    try:
        assert (await first.post(text_update(801, "first question")))[0] == 200
        await until(lambda: first.texts() == ["first question"], 10)
        assert (await second.post(text_update(802, "follow-up")))[0] == 200  # arrives while the first turn runs
        inbox = inbox_of(first.engine)
        await until(lambda: inbox.status(802) == "done", 10)
    finally:
        await first.stop()
        await second.stop()
    assert first.texts() == ["first question", "follow-up"] and second.texts() == []
    assert fake.sent_texts(CHAT) == ["You said: first question", "You said: follow-up"]


async def test_a_worker_stopped_by_an_error_leaves_its_chat_to_the_sweep_not_stalled(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """The error hits before the claim (the database hiccups); the chat's updates still get their turns."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        runtime = harness.runtime
        claim = runtime._claim_in_turn
        failures = {31: 1}

        async def flaky_claim(update_id: int) -> Claim | None:
            if failures.get(update_id):
                failures[update_id] -= 1
                raise ConnectionError("the database went away for a moment")
            return await claim(update_id)

        runtime._claim_in_turn = flaky_claim  # type: ignore[method-assign]
        assert (await harness.post(text_update(31, "my withdrawal is stuck")))[0] == 200  # nothing follows it
        await until(lambda: fake.sent_texts(CHAT) == ["You said: my withdrawal is stuck"], 30)
        assert failures == {31: 0}
        assert (await harness.post(text_update(32, "it was BTC")))[0] == 200
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: my withdrawal is stuck", "You said: it was BTC"]


async def test_a_turns_replies_arrive_as_one_message_with_the_last_ones_buttons(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Three replies of one turn are one message (one send of Telegram's budget); a photo and the next turn are not."""
    harness = ChannelHarness(fake, sqlite_url, tmp_path)
    solved = {"text": "Did this solve it?", "buttons": [{"title": "Yes", "payload": "/affirm"}]}

    async def answer(message: UserMessage) -> None:
        replies = [{"text": "Fees are 0.1%."}, {"text": "Related: limits"}, solved, {"image": "https://e.com/a.png"}]
        for reply in replies if message.text == "fees?" else [{"text": "Noted."}]:
            await message.output_channel.send_response(message.sender_id, reply)

    harness.on_new_message = answer  # type: ignore[method-assign]
    async with harness:
        await harness.post(text_update(91, "fees?"))
        await harness.post(text_update(92, "thanks"))
        await harness.idle()
    [first, second] = fake.calls_to("sendMessage", CHAT)
    assert first.params["text"] == "Fees are 0.1%.\n\nRelated: limits\n\nDid this solve it?"
    assert first.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Yes"
    assert second.params["text"] == "Noted."
    assert len(fake.calls_to("sendPhoto", CHAT)) == 1 and fake.calls_to("sendPhoto", CHAT)[0].at < second.at
    rows = outbox_of(harness.engine).rows(CHAT)
    assert [r["status"] for r in rows] == ["sent"] * 5  # each reply keeps its own row and its message's id
    assert rows[0]["message_id"] == rows[1]["message_id"] == rows[2]["message_id"] != rows[3]["message_id"]


def test_one_message_holds_texts_up_to_the_first_buttons_and_telegrams_length() -> None:
    text = lambda t, **more: {"kind": "text", "text": t, **more}  # noqa: E731
    assert first_message([text("a"), text("b", buttons=[{"title": "Yes"}]), text("c")]) == 2
    assert first_message([text("a"), {"kind": "photo", "url": "u"}, text("c")]) == 1
    assert first_message([text("a"), text("b", reply_to=5)]) == 1  # a reply to another message stands alone
    assert first_message([text("x" * 3000), text("y" * 1094), text("z")]) == 2  # 3000 + 2 + 1094 = 4096
    assert first_message([text("x" * 3000), text("y" * 1095)]) == 1
    assert joined([text("a", reply_to=5), text("b", buttons=[{"title": "No"}])]) == text(
        "a\n\nb", reply_to=5, buttons=[{"title": "No"}]
    )


class StrictTelegram(FakeTelegram):
    """Refuses a keyboard with a link that is not HTTPS, as Telegram does ("wrong HTTP URL specified")."""

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        markup = params.get("reply_markup")
        markup = json.loads(markup) if isinstance(markup, str) else markup or {}
        keys = [key for row in markup.get("inline_keyboard", []) for key in row]
        if any(not key.get("url", "https://").startswith("https://") for key in keys):
            return _error(400, "Bad Request: wrong HTTP URL specified")
        return await super()._m_sendMessage(params)


async def test_a_refused_reply_does_not_take_the_rest_of_its_turn_with_it(sqlite_url: str, tmp_path: Path) -> None:
    """Found by an outside review: the merged message was refused and both replies were marked failed."""
    async with StrictTelegram() as strict:
        harness = ChannelHarness(strict, sqlite_url, tmp_path)

        async def answer(message: UserMessage) -> None:
            for reply in [
                {"text": "Your withdrawal W-1 is confirmed on chain."},
                {"text": "Track it here:", "buttons": [{"title": "Explorer", "url": "tronscan.org/#/tx/abc"}]},
            ]:
                await message.output_channel.send_response(message.sender_id, reply)

        harness.on_new_message = answer  # type: ignore[method-assign]
        async with harness:
            await harness.post(text_update(81, "where is my withdrawal"))
            outbox = outbox_of(harness.engine)
            await until(lambda: sorted(r["status"] for r in outbox.rows(CHAT)) == ["failed", "sent"], timeout=15)
        assert [r["status"] for r in outbox.rows(CHAT)] == ["sent", "failed"]
        assert "Your withdrawal W-1 is confirmed on chain." in strict.sent_texts(CHAT)  # alone, after the refusal


@pytest.mark.postgres
async def test_another_servers_sweep_leaves_a_running_turns_replies_to_it(
    fake: FakeTelegram, pg_url: str, tmp_path: Path
) -> None:
    """Found by an outside review: the second server sent a running turn's replies one by one."""
    first = await ChannelHarness(fake, pg_url, tmp_path).start()
    second = await ChannelHarness(fake, pg_url, tmp_path, env={"INSTANCE_ID": "second"}).start()

    async def slow_three_replies(message: UserMessage) -> None:
        for text in ("one", "two", "three"):
            await message.output_channel.send_response(message.sender_id, {"text": text})
            await asyncio.sleep(0.8)  # past the other server's 1-s sweep, well inside the 5-s wait

    first.on_new_message = second.on_new_message = slow_three_replies  # type: ignore[method-assign]
    try:
        await first.post(text_update(71, "fees?"))
        await first.idle()
        await second.idle()
    finally:
        await first.stop()
        await second.stop()
    assert fake.sent_texts(CHAT) == ["one\n\ntwo\n\nthree"]


async def test_a_text_turn_leaves_the_event_loop_once_for_each_piece_of_bookkeeping(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy server every trip to a thread waits for the loop twice (to start, to be taken back).

    So a turn makes one trip for each step the customer waits on: the update stored, claimed,
    admitted by the gate, the reply kept on the case and in the outbox, the turn finished with
    the chat's next update looked up, the reply taken and marked sent.
    """
    quiet = {"TELEGRAM_SWEEP_SECONDS": "30", "TELEGRAM_PICKUP_SECONDS": "30", "TELEGRAM_TYPING_AFTER_SECONDS": "30"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=quiet) as harness:
        trips: list[str] = []
        to_thread = asyncio.to_thread

        async def counted(function: Any, /, *args: Any, **kwargs: Any) -> Any:
            trips.append(function.__qualname__)
            return await to_thread(function, *args, **kwargs)

        monkeypatch.setattr(asyncio, "to_thread", counted)
        assert (await harness.post(text_update(61, "my deposit has not arrived")))[0] == 200
        await until(lambda: fake.sent_texts(CHAT) == ["You said: my deposit has not arrived"], 10)
        await harness.idle()
    channel_trips = [trip for trip in trips if not trip.startswith("DatabaseUrlTrackerStore.")]  # Rasa's own
    assert channel_trips == [
        "TelegramRuntime._store_redacted",
        "Inbox.claim",
        "ConversationGate._admit",
        "ConversationGate._record_bot_line",
        "Outbox.add",
        "TelegramRuntime._finish",
        "ReplyDelivery._take_next",
        "Outbox.mark",
    ]
