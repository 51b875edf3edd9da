"""End to end: kill -9 of the Rasa server, the action server or the desk in a Telegram burst loses nothing.

One stack on PostgreSQL, the customer bot in webhook mode against a fake Bot API. A calm
run first fixes how many replies each message gets; then, for each crash, 25 chats send one
message each, the process is killed with SIGKILL after some replies went out and started
again with the same command line and environment (the Rasa server keeps its port, so its
instance id, and takes its claims back at once). Updates Telegram could not deliver while
the server was down are posted again until answered 2xx, as Telegram does. Every chat must
then have every expected reply; a reply sent twice must be one the outbox flagged
``possible_duplicate``. The action server stays down longer than Rasa retries a call, so
turns stop on the failed call and run again: each P1 chat still gets one case, not one per
try. When the desk is killed in a burst of P1 messages, the agents' group (its bot on a
second fake Bot API) still gets an alert for every P1 case.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.cases.database import make_engine
from tests.auxil.fake_telegram import FakeTelegram, private_message
from tests.auxil.rasa_stack import RunningStack, rasa_stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TOKEN = "7012345678:AAF1kq9ZxY3bV7nT0pLmW2cR5sD8eH4jKuQ"
AGENT_TOKEN = "7098765432:AAH5yT2wQ9eR1tY6uI3oP8aS4dF7gJ0kLzX"
GROUP = -1005550000
CASE_ID = re.compile(r"\bCX-[0-9A-Z]{6}\b")
SECRET = "crash-test-webhook-secret"
MESSAGES = ("someone stole my account", "my withdrawal is stuck")
CHATS = 8
SETTLE_SECONDS = 120.0  # a burst, a restart and the replays
ACTION_RETRY_SECONDS = 1.0  # how long Rasa retries a call the action server does not take
ACTION_DOWN_SECONDS = 4.0  # longer: the calls in between fail and their turns run again


class Burst:
    """Telegram's side of the test: updates posted until acknowledged, and what each chat received."""

    def __init__(self, stack: RunningStack, fake: FakeTelegram, engine: Engine, session: aiohttp.ClientSession) -> None:
        self.stack, self.fake, self.engine, self.session = stack, fake, engine, session
        self.url = f"{stack.rasa_urls[0]}/webhooks/telegram/webhook"
        self.update_ids = iter(range(10_000, 1_000_000))
        self.refused = 0  # posts that got a connection error or a non-2xx and were posted again

    async def post(self, chat: int, message: str) -> int:
        """Deliver one update like Telegram: again and again until the webhook answers 2xx."""
        update = {"update_id": next(self.update_ids), "message": private_message(chat, message, message_id=chat)}
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                async with self.session.post(
                    self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                ) as response:
                    if 200 <= response.status < 300:
                        return int(update["update_id"])
            except aiohttp.ClientError:
                pass
            self.refused += 1
            assert time.monotonic() < deadline, f"update for chat {chat} never acknowledged"
            await asyncio.sleep(0.2)

    def replies(self, chats: list[int]) -> int:
        return sum(len(self.fake.sent_paragraphs(chat)) for chat in chats)

    def _unsettled(self, chats: list[int], update_ids: list[int]) -> int:
        with self.engine.connect() as conn:
            updates = conn.execute(
                text("SELECT count(*) FROM telegram_updates WHERE update_id = ANY(:ids) AND status <> 'done'"),
                {"ids": update_ids},
            ).scalar()
            sends = conn.execute(
                text("SELECT count(*) FROM telegram_replies WHERE chat_id = ANY(:chats) AND status <> 'sent'"),
                {"chats": chats},
            ).scalar()
        return int(updates or 0) + int(sends or 0) + (len(update_ids) - self._stored(update_ids))

    def _stored(self, update_ids: list[int]) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM telegram_updates WHERE update_id = ANY(:ids)"), {"ids": update_ids}
                ).scalar()
                or 0
            )

    async def settled(self, chats: list[int], update_ids: list[int]) -> None:
        """Wait until every update's turn is done and every reply it recorded is sent."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while left := await asyncio.to_thread(self._unsettled, chats, update_ids):
            assert time.monotonic() < deadline, f"{left} updates or replies still open after {SETTLE_SECONDS}s"
            await asyncio.sleep(0.2)

    def evidence(self, chats: list[int]) -> list[tuple]:
        """The inbox and outbox rows of ``chats``, and what their trackers recorded, for a failure message."""
        senders = [f"tg:{chat}:{chat}" for chat in chats]
        with self.engine.connect() as conn:
            inbox = conn.execute(
                text("SELECT update_id, chat_key, status, attempts, error FROM telegram_updates"
                     " WHERE chat_key = ANY(:keys)"), {"keys": [str(c) for c in chats] + senders},
            ).all()  # fmt: skip
            outbox = conn.execute(
                text("SELECT chat_id, update_id, seq, status, attempts, possible_duplicate, left(body::text, 60)"
                     " FROM telegram_replies WHERE chat_id = ANY(:chats) ORDER BY chat_id, update_id, seq"),
                {"chats": chats},
            ).all()  # fmt: skip
            events = conn.execute(
                text("SELECT sender_id, type_name, action_name, intent_name FROM events"
                     " WHERE sender_id = ANY(:senders) ORDER BY id"), {"senders": senders},
            ).all()  # fmt: skip
        return [("inbox", *r) for r in inbox] + [("outbox", *r) for r in outbox] + [("event", *r) for r in events]

    def outbox(self, chats: list[int]) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status, possible_duplicate, count(*) FROM telegram_replies"
                    " WHERE chat_id = ANY(:chats) GROUP BY status, possible_duplicate"
                ),
                {"chats": chats},
            ).all()
        counts = {"rows": 0, "possible_duplicate": 0, "failed": 0}
        for status, duplicate, count in rows:
            counts["rows"] += count
            counts["possible_duplicate"] += count if duplicate else 0
            counts["failed"] += count if status == "failed" else 0
        return counts


async def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


async def _crash_in_burst(
    burst: Burst,
    first_chat: int,
    expected: dict[str, int],
    crash: Callable[[], Awaitable[float]],
    label: str,
    messages: tuple[str, ...] = MESSAGES,
    begun: Callable[[], bool] | None = None,
) -> list[int]:
    """25 chats write; once some replies went out (or ``begun``), ``crash`` runs; every expected reply must arrive."""
    chats = list(range(first_chat, first_chat + CHATS))
    wanted = {chat: messages[i % len(messages)] for i, chat in enumerate(chats)}
    total = sum(expected[message] for message in wanted.values())
    early, late = chats[: CHATS * 3 // 5], chats[CHATS * 3 // 5 :]
    update_ids = list(await asyncio.gather(*(burst.post(chat, wanted[chat]) for chat in early)))
    await _wait(begun or (lambda: burst.replies(chats) >= total // 5), SETTLE_SECONDS, "the burst under way")
    sent_before = burst.replies(chats)
    refused_before = burst.refused
    late_posts = asyncio.gather(*(burst.post(chat, wanted[chat]) for chat in late))  # some land while it is down
    restarted_at = await crash()
    update_ids += await late_posts
    await burst.settled(chats, update_ids)
    await asyncio.sleep(1.5)  # a send past the last recorded one would show up here
    texts = {chat: burst.fake.sent_paragraphs(chat) for chat in chats}
    lost = {chat: expected[wanted[chat]] - len(set(got)) for chat, got in texts.items()}
    lost = {chat: count for chat, count in lost.items() if count > 0}
    duplicates = sum(len(got) - len(set(got)) for got in texts.values())
    outbox = await asyncio.to_thread(burst.outbox, chats)
    last_reply = max(call.at for call in burst.fake.calls_to("sendMessage") if call.chat_id in wanted)
    print(
        f"\n[{label}] expected {total} replies, {sent_before} sent before the kill; lost {sum(lost.values())},"
        f" duplicates {duplicates} (outbox possible_duplicate {outbox['possible_duplicate']}, failed"
        f" {outbox['failed']}, rows {outbox['rows']}); re-posted updates {burst.refused - refused_before};"
        f" last reply {last_reply - restarted_at:.1f}s after the restart"
    )
    if begun is None:  # else the caller checks that its crash came mid-burst
        assert sent_before < total, "the crash came after the burst was already answered"
    if lost:
        rows = await asyncio.to_thread(burst.evidence, list(lost))
        details = "\n".join(f"{chat} {wanted[chat]!r}: {texts[chat]}" for chat in lost)
        raise AssertionError(f"replies lost:\n{details}\n" + "\n".join(map(str, rows)))
    assert outbox["failed"] == 0, outbox
    if duplicates > outbox["possible_duplicate"]:
        twice = [chat for chat, got in texts.items() if len(got) > len(set(got))]
        rows = await asyncio.to_thread(burst.evidence, twice)
        details = "\n".join(f"{chat} {wanted[chat]!r}: {texts[chat]}" for chat in twice)
        raise AssertionError(f"{duplicates} replies sent twice, {outbox}:\n{details}\n" + "\n".join(map(str, rows)))
    return chats


def _p1_cases(engine: Engine, chats: list[int]) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id FROM cases WHERE priority = 1 AND sender_id = ANY(:senders)"),
            {"senders": [f"tg:{chat}:{chat}" for chat in chats]},
        ).all()
    return {row[0] for row in rows}


async def test_nothing_is_lost_when_rasa_the_action_server_or_the_desk_is_killed_in_a_burst(tmp_path, pg_url):
    async with FakeTelegram() as fake, FakeTelegram() as agents:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",  # only registered
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_SWEEP_SECONDS": "1",
            "ACTION_RETRY_SECONDS": str(ACTION_RETRY_SECONDS),
        }
        desk_env = {  # the agents' bot on its own fake: the customer bot's webhook makes the other refuse polling
            "TELEGRAM_API_BASE_URL": agents.base_url,
            "TELEGRAM_AGENT_BOT_TOKEN": AGENT_TOKEN,
            "TELEGRAM_AGENT_CHAT_ID": str(GROUP),
            "TELEGRAM_AGENT_IDS": "4242",
            "TELEGRAM_POLL_TIMEOUT_SECONDS": "1",
        }
        stack_context = rasa_stack(tmp_path, pg_url, extra_env=env, desk_env=desk_env)
        stack = await asyncio.to_thread(stack_context.__enter__)
        engine = make_engine(pg_url)
        try:
            await _wait(lambda: bool(fake.webhook.get("url")), 60, "setWebhook")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                burst = Burst(stack, fake, engine, session)

                # A calm run: how many replies each message gets from this model.
                calm = {message: 100 + i for i, message in enumerate(MESSAGES)}
                update_ids = [await burst.post(chat, message) for message, chat in calm.items()]
                await burst.settled(list(calm.values()), update_ids)
                expected = {message: len(fake.sent_paragraphs(chat)) for message, chat in calm.items()}
                print(f"\n[calm] replies per message: {expected}")
                assert all(count >= 2 for count in expected.values()), {
                    message: fake.sent_paragraphs(chat) for message, chat in calm.items()
                }

                async def kill_rasa() -> float:
                    stack.kill("rasa-0")
                    await asyncio.to_thread(stack.start, "rasa-0")
                    return time.monotonic()

                async def kill_actions() -> float:
                    stack.kill("actions")
                    await asyncio.sleep(ACTION_DOWN_SECONDS)  # the action server is down for a moment
                    started = time.monotonic()
                    await asyncio.to_thread(stack.start, "actions")
                    return started

                await _crash_in_burst(burst, 1000, expected, kill_rasa, "A: kill -9 Rasa server")
                b_chats = await _crash_in_burst(burst, 2000, expected, kill_actions, "B: kill -9 action server")
                b_p1 = b_chats[:: len(MESSAGES)]  # the chats that wrote MESSAGES[0]
                b_cases = await asyncio.to_thread(_p1_cases, engine, b_p1)
                assert len(b_cases) == len(b_p1), f"one P1 case per chat: {len(b_cases)} for {len(b_p1)} chats"

                alerted = lambda: {  # noqa: E731
                    case for c in agents.calls_to("sendMessage", GROUP) for case in CASE_ID.findall(c.params["text"])
                }
                earlier = [*calm.values(), *range(1000, 1000 + CHATS), *range(2000, 2000 + CHATS)]
                earlier_cases = await asyncio.to_thread(_p1_cases, engine, earlier)
                await _wait(lambda: earlier_cases <= alerted(), SETTLE_SECONDS, "the alerts of the earlier P1 cases")
                alerts_before = len(agents.calls_to("sendMessage", GROUP))
                at_kill: list[int] = []

                async def kill_desk() -> float:
                    at_kill.append(len(agents.calls_to("sendMessage", GROUP)) - alerts_before)
                    stack.kill("desk")
                    await asyncio.to_thread(stack.start, "desk")
                    return time.monotonic()

                p1 = MESSAGES[0]
                chats = await _crash_in_burst(
                    burst, 3000, expected, kill_desk, "C: kill -9 desk", messages=(p1,),
                    begun=lambda: len(agents.calls_to("sendMessage", GROUP)) >= alerts_before + 3,
                )  # fmt: skip
                assert at_kill[0] < CHATS, "the desk was killed after every alert of the burst went out"
                cases = await asyncio.to_thread(_p1_cases, engine, chats)
                assert len(cases) == len(chats), f"one P1 case per chat: {len(cases)} for {len(chats)} chats"
                deadline = time.monotonic() + SETTLE_SECONDS
                while missing := cases - alerted():
                    assert time.monotonic() < deadline, f"no alert for P1 cases {sorted(missing)}"
                    await asyncio.sleep(0.2)
                group = agents.calls_to("sendMessage", GROUP)
                sent = [c for c in group if set(CASE_ID.findall(c.params["text"])) & cases]
                print(
                    f"[C] P1 cases {len(cases)}, {at_kill[0]} alerted before the kill, lost 0,"
                    f" alerts {len(sent)}, repeats {len(sent) - len(cases)}"
                )
        finally:
            engine.dispose()
            await asyncio.to_thread(stack_context.__exit__, None, None, None)
