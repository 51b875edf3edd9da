"""No stalled chat and no silent drop: hangs, transient errors and unreadable updates on the Telegram path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy.exc import OperationalError

from bot.cases.instances import Instance
from bot.runtime.action_calls import ActionCallFailed, ActionServerUnreachable
from connectors.telegram.output import sender_id
from connectors.telegram.storage import Inbox
from tests.auxil.fake_telegram import FakeTelegram, private_message
from tests.auxil.telegram_harness import ChannelHarness, domain_text
from tests.auxil.waiting import until

pytestmark = pytest.mark.timeout(180)  # a hang fails in minutes, not after the suite-wide limit
CHAT = 7171
FAST = {"TELEGRAM_TURN_TIMEOUT_SECONDS": "1", "DATABASE_CALL_TIMEOUT_SECONDS": "2"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def text_update(update_id: int, text: str, chat: int = CHAT) -> dict[str, object]:
    return {"update_id": update_id, "message": private_message(chat, text, message_id=update_id)}


def misbehave_first(
    harness: ChannelHarness, tries: dict[str, int], fault: Callable[[UserMessage], Awaitable[None]]
) -> None:
    """The harness's turn runs ``fault`` on the first ``tries[text]`` tries of a message, then answers it as usual."""
    default, left = harness.on_new_message, dict(tries)

    async def turn(message: UserMessage) -> None:
        if left.get(message.text or "", 0):
            left[message.text or ""] -= 1
            await fault(message)
        await default(message)

    harness.on_new_message = turn  # type: ignore[method-assign]


async def hang(_message: UserMessage) -> None:
    await asyncio.sleep(3600)


def row(harness: ChannelHarness, update_id: int) -> dict[str, object]:
    found = Inbox(harness.engine, Instance(harness.engine, "reader")).row(update_id)
    assert found is not None
    return found


async def test_a_hung_turn_is_stopped_and_run_again_and_the_chat_goes_on(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Rasa (or the action server behind it) hangs on a message: bounded, retried, later messages answered."""
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=FAST) as harness:
        misbehave_first(harness, {"withdraw": 1}, hang)
        await harness.post(text_update(1, "withdraw"))
        await harness.post(text_update(2, "and then?"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=15)
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: withdraw", "You said: and then?"]
        first = row(harness, 1)
        assert first["status"] == "done" and first["attempts"] == 2 and "longer than" in str(first["error"])


async def test_a_turn_that_keeps_hanging_is_set_aside_with_its_error_and_the_customer_told(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    env = {**FAST, "TELEGRAM_MAX_TURN_ATTEMPTS": "2"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as harness:
        misbehave_first(harness, {"poison": 99}, hang)
        await harness.post(text_update(11, "poison"))
        await harness.post(text_update(12, "hello"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=20)
        await harness.idle()
        assert fake.sent_texts(CHAT) == [domain_text("utter_not_handled"), "You said: hello"]
        poison = row(harness, 11)
        assert poison["status"] == "failed" and poison["attempts"] == 2 and "longer than" in str(poison["error"])


async def test_the_watchdog_restarts_a_worker_that_ignores_its_timeout(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """A turn that swallows its cancellation would hold the chat for good; the watchdog stops it."""
    env = {"TELEGRAM_TURN_TIMEOUT_SECONDS": "0.5", "DATABASE_CALL_TIMEOUT_SECONDS": "0.5"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as harness:

        async def ignore_the_cancel(_message: UserMessage) -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(3600)  # a bug: goes on waiting after being told to stop

        misbehave_first(harness, {"stuck": 1}, ignore_the_cancel)
        await harness.post(text_update(21, "stuck"))
        await harness.post(text_update(22, "still there?"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=20)
        assert fake.sent_texts(CHAT) == ["You said: stuck", "You said: still there?"]
        assert "watchdog" in str(row(harness, 21)["error"])


async def test_a_chat_whose_stuck_update_cannot_be_handed_back_goes_on_once_its_claim_runs_out(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the watchdog: when the database refused to take the stuck update back, its chat kept a queue
    with no worker, and the sweep never scheduled those updates again: the chat waited for a new message."""
    env = {"TELEGRAM_TURN_TIMEOUT_SECONDS": "0.5", "DATABASE_CALL_TIMEOUT_SECONDS": "0.5"}  # claim hold 11 s
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as harness:
        retry_later, refusals = harness.runtime.inbox.retry_later, [OperationalError("UPDATE", {}, Exception("gone"))]

        def refuse_the_watchdog_once(update_id: int, error: str, *args: object, **kwargs: object) -> None:
            if "watchdog" in error and refusals:
                raise refusals.pop()
            retry_later(update_id, error, *args, **kwargs)  # type: ignore[arg-type]

        async def ignore_the_cancel(_message: UserMessage) -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(3600)

        monkeypatch.setattr(harness.runtime.inbox, "retry_later", refuse_the_watchdog_once)
        misbehave_first(harness, {"stuck": 1}, ignore_the_cancel)
        await harness.post(text_update(23, "stuck"))
        await harness.post(text_update(24, "still there?"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=40)
        assert not refusals and fake.sent_texts(CHAT) == ["You said: stuck", "You said: still there?"]


async def test_transient_errors_are_retried_and_do_not_use_up_the_tries_of_a_turn_that_times_out_once(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Database blips and an unreachable action server (retried, never failed), then one slow try: the turn runs
    again. Before, every claim counted, so such a try's timeout set a plain message aside."""
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=FAST) as harness:
        default = harness.on_new_message
        script = ["locked", "unreachable", "locked", "slow"]

        async def blips_then_slow(message: UserMessage) -> None:
            step = script.pop(0) if script else None
            if step == "locked":
                raise OperationalError("SELECT 1", {}, Exception("database is locked"))
            if step == "unreachable":  # the action server restarting for longer than Rasa retries a call
                raise ActionServerUnreachable("Couldn't connect to the action server (for 30 s)")
            if step == "slow":
                await asyncio.sleep(3600)
            await default(message)

        harness.on_new_message = blips_then_slow  # type: ignore[method-assign]
        await harness.post(text_update(35, "my deposit is missing"))
        await fake.wait_for("sendMessage", chat_id=CHAT, timeout=30)
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: my deposit is missing"]
        done = row(harness, 35)
        assert (done["status"], done["attempts"], done["turn_failures"]) == ("done", 5, 1)


async def test_a_failed_action_call_runs_the_turn_again_and_one_that_keeps_failing_is_set_aside(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Rasa stops a turn whose action failed (``ActionCallFailed``) before saving it: the turn is a counted
    try, run again; before, Rasa went on without the action and the row was marked done."""
    env = {**FAST, "TELEGRAM_MAX_TURN_ATTEMPTS": "2"}
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=env) as harness:

        async def action_fails(_message: UserMessage) -> None:
            raise ActionCallFailed("Failed to execute custom action 'action_open_case'")

        misbehave_first(harness, {"stolen": 1, "broken": 99}, action_fails)
        await harness.post(text_update(36, "stolen"))
        await harness.post(text_update(37, "broken"))
        await harness.post(text_update(38, "hello"))
        await fake.wait_for("sendMessage", count=3, chat_id=CHAT, timeout=30)
        await harness.idle()
        not_handled = domain_text("utter_not_handled")
        assert fake.sent_texts(CHAT) == ["You said: stolen", not_handled, "You said: hello"]
        assert (row(harness, 36)["status"], row(harness, 36)["turn_failures"]) == ("done", 1)
        broken = row(harness, 37)
        assert broken["status"] == "failed" and "action_open_case" in str(broken["error"])


async def test_a_turn_run_again_keeps_one_copy_of_its_lines_on_the_open_case(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """The cut try recorded the customer's line and its reply on the case; the try that completes the turn
    says both again. Before, each try added them to the transcript once more (six times in a 25-s outage)."""
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=FAST) as harness:
        case = harness.store.open_case(intent="withdrawal_stuck", priority=2, channel="telegram",
                                       sender_id=sender_id(CHAT, CHAT), summary="stuck", details={})  # fmt: skip

        async def fails_after_replying(message: UserMessage) -> None:
            await message.output_channel.send_response(message.sender_id, {"text": f"You said: {message.text}"})
            raise ActionCallFailed("Failed to execute custom action 'action_open_case'")

        misbehave_first(harness, {"stolen": 2}, fails_after_replying)
        await harness.post(text_update(41, "stolen"))
        await harness.post(text_update(42, "and now?"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=30)
        await harness.idle()
        assert row(harness, 41)["turn_failures"] == 2  # two cut tries before the one that completed it
        assert fake.sent_texts(CHAT) == ["You said: stolen", "You said: and now?"]
        lines = [line.text for line in harness.store.transcript(case.id)]
        assert lines == ["stolen", "You said: stolen", "and now?", "You said: and now?"]


async def test_an_update_the_library_cannot_parse_is_read_from_its_raw_json(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    """Older payload shapes: the caption of a photo whose sizes are missing still reaches the bot, and the
    customer is told the photo itself could not be opened (before, it was dropped without a word)."""
    broken_photo = private_message(CHAT, None, message_id=41, photo=[{"file_id": "x"}], caption="my card was charged")
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        await harness.post({"update_id": 41, "message": broken_photo})
        await fake.wait_for("sendMessage", chat_id=CHAT, timeout=30)
        await harness.idle()
        assert harness.texts() == ["my card was charged"]
        sent = fake.sent_paragraphs(CHAT)
        assert sent == [domain_text("utter_attachment_unreadable"), "You said: my card was charged"], sent
        assert row(harness, 41)["status"] == "done"


async def test_an_update_with_nothing_readable_gets_a_reply_and_keeps_its_error(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    poll = {"id": "p1", "question": "?", "options": [{"text": "a", "voter_count": 0}]}  # no type, no counts
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        await harness.post({"update_id": 51, "message": private_message(CHAT, None, message_id=51, poll=poll)})
        await harness.post(text_update(52, "hello"))
        await harness.idle()
        assert harness.texts() == ["hello"]
        assert fake.sent_texts(CHAT) == [domain_text("utter_telegram_non_text"), "You said: hello"]
        failed = row(harness, 51)
        assert failed["status"] == "failed" and "poll" in str(failed["error"])


@pytest.mark.parametrize("words", [{"text": 12345}, {"text": {"a": 1}, "caption": "my card was charged"}],
                         ids=["number", "object-with-caption"])  # fmt: skip
async def test_a_text_that_is_not_a_string_is_read_from_its_core_not_failed(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, words: dict[str, object]
) -> None:
    """An outside test: PTB passes any JSON as the text; the turn failed and the customer was told something
    went wrong. Now the caption stands in where there is one, else the customer is asked for text."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        await harness.post({"update_id": 54, "message": {**private_message(CHAT, None, message_id=54), **words}})
        await harness.idle()
        if "caption" in words:
            assert fake.sent_texts(CHAT) == ["You said: my card was charged"]
            assert row(harness, 54)["status"] == "done"
        else:
            assert fake.sent_texts(CHAT) == [domain_text("utter_telegram_non_text")]
            assert row(harness, 54)["status"] == "failed"


@pytest.mark.parametrize("profile", [{"first_name": 7}, {"language_code": 5}], ids=["first_name", "language_code"])
async def test_a_profile_field_that_is_not_a_string_does_not_stop_the_customer_being_answered(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, profile: dict[str, object]
) -> None:
    """An outside test: a number as the sender's first name failed every turn of the chat ("something went
    wrong", no case for a theft report), however often the customer wrote. The message is read from its core."""
    message = private_message(CHAT, "my account was stolen", message_id=55)
    message["from"] = {**message["from"], **profile}
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        await harness.post({"update_id": 55, "message": message})
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: my account was stolen"]
        assert row(harness, 55)["status"] == "done"


async def test_half_a_utf16_pair_is_stored_and_answered_not_refused_at_every_redelivery(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path
) -> None:
    r"""An outside review: a JSON "\ud800" in the text made the inbox's store fail, and the webhook answer 500."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        status, _ = await harness.post(text_update(53, "hi \ud800 there"))  # json.dumps escapes it
        await harness.idle()
        assert status == 200
        assert fake.sent_texts(CHAT) == ["You said: hi \ufffd there"]


async def test_a_turn_whose_done_mark_fails_for_a_moment_is_marked_and_its_chat_goes_on(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outside review: a database blip while marking a turn done stopped the chat's worker, and the chat
    waited for the turn's claim to run out (130 s) before its next message was answered."""
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=FAST) as harness:
        finish, blips = harness.runtime.inbox.finish, [OperationalError("UPDATE", {}, Exception("database is locked"))]

        def blip_once(*args: object, **kwargs: object) -> None:
            if blips:
                raise blips.pop()
            finish(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(harness.runtime.inbox, "finish", blip_once)
        await harness.post(text_update(71, "first"))
        await harness.post(text_update(72, "second"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=10)  # the claim holds 2 x 60 s + 10 s
        await harness.idle()
        assert not blips and fake.sent_texts(CHAT) == ["You said: first", "You said: second"]
        assert row(harness, 71)["status"] == row(harness, 72)["status"] == "done"
        assert row(harness, 71)["attempts"] == 1, "marked done, not run again"


async def test_a_turn_the_watchdog_stops_while_it_is_marked_done_is_replayed_not_counted_as_failed(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outside review: the done mark is retried while its claim holds, past the watchdog's bound; the
    watchdog then counted the finished turn as a failed try (three such tell an answered customer that
    something went wrong). Now its replay is not counted, and it sends nothing twice."""
    claim_past_the_watchdog = {**FAST, "INSTANCE_STALE_SECONDS": "30"}  # claim hold 32 s, the watchdog's bound 14 s
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=claim_past_the_watchdog) as harness:
        finish = harness.runtime.inbox.finish

        def fails_on_the_first_try(update_id: int, *args: object, **kwargs: object) -> None:
            if update_id == 73 and row(harness, update_id)["attempts"] == 1:  # away until the watchdog steps in
                raise OperationalError("UPDATE", {}, Exception("database is locked"))
            finish(update_id, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(harness.runtime.inbox, "finish", fails_on_the_first_try)
        await harness.post(text_update(73, "first"))
        await harness.post(text_update(74, "second"))
        await fake.wait_for("sendMessage", count=2, chat_id=CHAT, timeout=40)  # the watchdog's bound: 14 s
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: first", "You said: second"]
        first = row(harness, 73)
        assert (first["status"], first["attempts"], first["turn_failures"]) == ("done", 2, 0)


async def test_an_update_the_database_cannot_store_is_answered_503_and_kept_when_telegram_delivers_it_again(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outside test: while the database was away the webhook answered 500 with a traceback each time."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        store, outage = harness.runtime.inbox.store, [OperationalError("INSERT", {}, Exception("connection refused"))]

        def away_once(*args: object, **kwargs: object) -> bool:
            if outage:
                raise outage.pop()
            return store(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(harness.runtime.inbox, "store", away_once)
        status, body = await harness.post(text_update(75, "my withdrawal is stuck"))
        assert (status, body) == (503, {"error": "update not stored, retry later"})
        assert (await harness.post(text_update(75, "my withdrawal is stuck")))[0] == 200  # Telegram again
        await harness.idle()
        assert fake.sent_texts(CHAT) == ["You said: my withdrawal is stuck"]


async def test_a_database_away_is_logged_once_by_the_pick_up_not_at_every_look(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outside test: the pick-up, every 0.2 s, logged a traceback each time (280 in a minute of outage)."""
    async with ChannelHarness(fake, sqlite_url, tmp_path) as harness:
        pending, looks = harness.runtime.inbox.pending, []

        def away_for_ten_looks(*args: object, **kwargs: object) -> list[object]:
            looks.append(1)
            if len(looks) <= 10:
                raise OperationalError("SELECT", {}, Exception("connection refused"))
            return pending(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(harness.runtime.inbox, "pending", away_for_ten_looks)
        with caplog.at_level(logging.INFO, logger="connectors.telegram.runtime"):
            await until(lambda: any("works again" in r.getMessage() for r in caplog.records), 30)
        said = [r for r in caplog.records if "looking for Telegram updates to take" in r.getMessage()]
        assert len(looks) > 10 and [r.levelno for r in said] == [logging.WARNING, logging.INFO]
        assert all(r.exc_info is None for r in said)


async def test_telling_the_customer_during_a_database_blip_waits_for_the_database(
    fake: FakeTelegram, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting an update aside records a notice; when that write fails for a moment, the update waits and is
    tried again. Before, the failure was swallowed: the row was set aside and the customer never told."""
    poll = {"id": "p2", "question": "?", "options": [{"text": "a", "voter_count": 0}]}  # unreadable: no type
    async with ChannelHarness(fake, sqlite_url, tmp_path, env=FAST) as harness:
        deliver, blips = harness.runtime.deliver, [OperationalError("INSERT", {}, Exception("database is locked"))]

        async def blip_once(*args: object, **kwargs: object) -> None:
            if blips:
                raise blips.pop()
            await deliver(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(harness.runtime, "deliver", blip_once)
        await harness.post({"update_id": 61, "message": private_message(CHAT, None, message_id=61, poll=poll)})
        await fake.wait_for("sendMessage", chat_id=CHAT, timeout=30)
        await harness.idle()
        assert not blips and fake.sent_texts(CHAT) == [domain_text("utter_telegram_non_text")]
        aside = row(harness, 61)
        assert aside["status"] == "failed" and aside["attempts"] == 2 and "poll" in str(aside["error"])
