import asyncio
import collections
import contextlib
import time

import aiohttp

from bot.cases.agents import DutyRoster
from bot.cases.database import make_engine
from bot.cases.deliveries import Backoff, Delivery, DeliveryLedger
from bot.cases.escalations import P1_REALERT_FLAG, Escalations
from bot.cases.store import CaseStore
from bot.desk.budget import SendBudget
from bot.desk.destinations import Settled, TelegramGroup, Webhook
from bot.desk.dispatcher import Dispatcher
from connectors.telegram.sender import TelegramSender
from tests.auxil.desk_webhook_receiver import WebhookReceiver
from tests.auxil.fake_telegram import FakeTelegram
from tests.auxil.waiting import until

SECRET = "hook-secret"


def _open(store: CaseStore, n: int) -> list[str]:
    ids = []
    for i in range(n):
        case = store.open_case(
            intent="withdrawal_stuck", priority=2, channel="rest", sender_id=f"c{i}", summary=f"case {i}", details={}
        )
        store.add_details(case.id, {"coin": "BTC"})
        ids.append(case.id)
    return ids


async def test_destination_down_then_up_loses_nothing_and_sends_nothing_twice(database_url):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    ledger = DeliveryLedger(engine, backoff=Backoff(base_seconds=0.05, max_seconds=0.2))
    DutyRoster(engine, idle_minutes=30)
    async with WebhookReceiver(SECRET) as receiver, aiohttp.ClientSession() as session:
        receiver.down = True
        webhook = Webhook(session, receiver.url, SECRET, store)
        dispatcher = Dispatcher(ledger, [webhook], poll_seconds=0.02)
        task = asyncio.create_task(dispatcher.run())
        try:
            first = await asyncio.to_thread(_open, store, 3)
            await until(lambda: receiver.refused_down >= 4, 5)  # retried with back-off while down
            assert receiver.accepted == []
            receiver.down = False
            second = await asyncio.to_thread(_open, store, 2)
            await until(lambda: len(receiver.accepted) >= 10, 10)
            await asyncio.sleep(0.3)  # give a duplicate the chance to show up
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    ids = [a["delivery_id"] for a in receiver.accepted]
    assert len(ids) == len(set(ids)) == 10, collections.Counter(ids)
    assert {a["case"]["id"] for a in receiver.accepted} == set(first + second)
    per_case = collections.defaultdict(list)
    for a in receiver.accepted:
        per_case[a["case"]["id"]].append(a["event"])
    assert all(events == ["case_opened", "case_updated"] for events in per_case.values())
    assert ledger.counts("webhook") == {"pending": 0, "delivered": 10}
    assert receiver.rejected_signatures == 0
    engine.dispose()


def test_two_ledgers_never_claim_the_same_row(database_url):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    _open(store, 4)
    one, two = DeliveryLedger(engine), DeliveryLedger(make_engine(database_url))
    one.plan(["x"])
    two.plan(["x"])
    assert one.counts("x")["pending"] == 8
    got_one = one.claim_due("x")
    got_two = two.claim_due("x")
    assert {d.id for d in got_one}.isdisjoint({d.id for d in got_two})
    # one row per case per pass keeps every case in order
    assert len({d.case_id for d in got_one}) == len(got_one) == 4
    assert all(d.event == "case_opened" for d in got_one)
    assert got_two == []  # the second rows wait for the first ones of their case
    engine.dispose()


class RecordingGroup:
    """A rate-limited destination that records what it was given."""

    name = "group"

    def __init__(self, budget: SendBudget) -> None:
        self.budget = budget
        self.sent: list[tuple[str, str]] = []
        self.digests: list[list[str]] = []

    @property
    def messages(self) -> int:
        return len(self.sent) - sum(len(d) for d in self.digests) + len(self.digests)

    async def deliver(self, delivery: Delivery) -> None:
        self.sent.append((delivery.case_id, delivery.event))

    async def deliver_digest(self, due: list[Delivery]) -> Settled:
        self.digests.append([d.case_id for d in due])
        self.sent.extend((d.case_id, d.event) for d in due)
        return Settled(list(due), sent=True)


async def test_a_p1_alert_goes_out_at_once_when_lower_priorities_used_up_their_share(database_url):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    ledger = DeliveryLedger(engine)
    group = RecordingGroup(SendBudget(per_minute=5, kept_for_p1=2, burst=4))
    task = asyncio.create_task(Dispatcher(ledger, [group], poll_seconds=0.02).run())
    try:
        routine = await asyncio.to_thread(_open, store, 4)  # 8 rows of P2 cases: only 3 messages fit their share
        await until(lambda: group.messages >= 3, 5)
        await asyncio.sleep(0.3)  # passes go on; the budget holds the rest back
        assert group.messages == 3 and {case for case, _ in group.sent} <= set(routine)
        assert len(group.sent) < 8
        theft = await asyncio.to_thread(
            store.open_case, intent="suspected_theft", priority=1, channel="rest", sender_id="victim",
            summary="account drained", details={},
        )  # fmt: skip
        await until(lambda: (theft.id, "case_opened") in group.sent, 5)
        left = 9 - len(group.sent)  # the other P2 rows wait for the window, not failed
        await until(lambda: ledger.counts("group") == {"pending": left, "delivered": 9 - left}, 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()


def test_the_budget_keeps_its_last_messages_for_p1_and_frees_them_as_the_minute_moves():
    now = [0.0]
    budget = SendBudget(per_minute=20, kept_for_p1=5, burst=5, clock=lambda: now[0])
    for _ in range(15):
        budget.spend()  # lower priorities' whole share at once
    assert budget.wait_seconds(3) == 60.0  # until the first of them leaves the window
    assert budget.wait_seconds(1) == 4.0  # a P1 takes the kept messages, one spacing apart
    now[0] = 4.0
    budget.spend()
    for _ in range(4):
        now[0] += budget.wait_seconds(1)
        budget.spend()
    assert now[0] == 20.0 and budget.wait_seconds(1) == 40.0  # 20 in the minute: Telegram's limit holds
    now[0] = 60.0
    assert budget.wait_seconds(3) == 0 and budget.wait_seconds(1) == 0  # the first 15 left the window


def test_after_a_burst_sends_are_spaced_so_the_minute_never_runs_dry():
    """A flood gets 5 messages at once, then one every 4 s: never a wait of the rest of the minute."""
    now = [0.0]
    budget = SendBudget(per_minute=20, kept_for_p1=5, burst=5, clock=lambda: now[0])
    for _ in range(5):
        assert budget.wait_seconds(1) == 0
        budget.spend()
    assert budget.wait_seconds(1) == 4.0
    sent = 5
    while now[0] < 120:  # a P1 flood for two minutes: send whenever allowed
        wait = budget.wait_seconds(1)
        assert wait <= 4.0
        now[0] += wait
        budget.spend()
        sent += 1
    assert 20 + 15 <= sent <= 20 + 30 + 1  # about 20 in the first minute, 15 a minute after


async def test_new_cases_waiting_for_the_budget_go_out_together_in_one_digest(database_url):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    ledger = DeliveryLedger(engine)
    group = RecordingGroup(SendBudget(per_minute=7, kept_for_p1=5, burst=1))  # after one message: one each 10 s
    task = asyncio.create_task(Dispatcher(ledger, [group], poll_seconds=0.02).run())

    def theft(i: int) -> str:
        return store.open_case(
            intent="suspected_theft", priority=1, channel="rest", sender_id=f"victim{i}", summary="drained",
            details={},
        ).id  # fmt: skip

    try:
        first = await asyncio.to_thread(theft, 0)
        await until(lambda: group.sent == [(first, "case_opened")], 5)
        flood = await asyncio.to_thread(lambda: [theft(i) for i in range(1, 7)])  # well within the 10 s spacing
        await until(lambda: len(group.sent) == 7, 20)
        assert group.digests == [flood], "one message for the six that waited, most urgent and oldest first"
        await until(lambda: ledger.counts("group") == {"pending": 0, "delivered": 7}, 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()


async def test_a_theft_report_during_a_flood_is_named_in_the_group_within_a_few_messages(database_url):
    """Hundreds of rows wait for the group's budget; a new P1 does not wait behind them.

    The real `TelegramGroup` against the fake Bot API, with the budget's clock 30 times fast
    (a P1 message every ~0.1 s instead of every ~3 s).
    """
    engine = make_engine(database_url)
    store = CaseStore(engine)
    ledger = DeliveryLedger(engine)
    roster = DutyRoster(engine, idle_minutes=30)

    def flood() -> list[str]:
        ids = []
        for i in range(140):
            case = store.open_case(
                intent="suspected_theft" if i < 120 else "fees_and_limits", priority=1 if i < 120 else 3,
                channel="telegram", sender_id=f"tg:{i}:{i}", summary=f"drained {i}", details={},
            )  # fmt: skip
            store.add_details(case.id, {"coin": "BTC"})
            store.add_details(case.id, {"network": "ERC20"})
            ids.append(case.id)
        return ids

    budget = SendBudget(per_minute=20, kept_for_p1=5, burst=2, clock=lambda: time.monotonic() * 30)
    async with FakeTelegram() as fake, TelegramSender.create("111:agents", base_url=fake.base_url) as sender:
        group = TelegramGroup(sender.bot, -100, store, ledger, roster, budget=budget)

        def texts() -> list[str]:
            return [c.params["text"] for c in fake.calls_to("sendMessage", -100)]

        waiting = await asyncio.to_thread(flood)
        task = asyncio.create_task(Dispatcher(ledger, [group], poll_seconds=0.02).run())
        try:
            await until(lambda: len(texts()) >= 4, 10)  # the burst is spent: messages are spaced
            theft = await asyncio.to_thread(
                store.open_case, intent="suspected_theft", priority=1, channel="telegram", sender_id="tg:9:9",
                summary="all my USDT gone", details={},
            )  # fmt: skip
            before = len(texts())
            await until(lambda: any(theft.id in text for text in texts()), 10)
            # a message may be on its way and the next pass may have planned before the report was stored
            assert next(i for i, text in enumerate(texts()) if theft.id in text) <= before + 2
            await until(lambda: ledger.counts("telegram_group") == {"pending": 0, "delivered": 3 * 140 + 1}, 20)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    sent = texts()
    assert all(len(text) <= 4096 for text in sent)
    assert len(sent) < 30, "digests, not a message per row"
    for case_id in waiting:
        named = next(i for i, text in enumerate(sent) if case_id in text)
        details = [i for i, text in enumerate(sent) if f"New details on {case_id}" in text]
        assert len(details) == 2 and named < details[0] <= details[1], "each case in order: named, then its updates"
    engine.dispose()


async def test_a_re_alert_to_a_large_team_during_a_flood_still_goes_out_and_spends_only_what_is_sent(database_url):
    """80 agents to call: the message names what fits and counts the rest; the budget counts messages sent."""
    engine = make_engine(database_url)
    store, ledger, roster = CaseStore(engine), DeliveryLedger(engine), DutyRoster(engine, idle_minutes=30)
    budget = SendBudget(per_minute=600, kept_for_p1=5, burst=1)  # spaced after one message, 0.1 s apart
    team = tuple(range(1_000_000_000, 1_000_000_080))
    async with FakeTelegram() as fake, TelegramSender.create("111:agents", base_url=fake.base_url) as sender:
        group = TelegramGroup(sender.bot, -100, store, ledger, roster, budget=budget, allowed_ids=team)

        def texts() -> list[str]:
            return [c.params["text"] for c in fake.calls_to("sendMessage", -100)]

        theft = await asyncio.to_thread(
            store.open_case, intent="suspected_theft", priority=1, channel="rest", sender_id="v", summary="drained",
            details={},
        )  # fmt: skip
        task = asyncio.create_task(Dispatcher(ledger, [group], poll_seconds=0.02).run())
        try:
            await until(lambda: len(texts()) == 1, 5)  # its alert; the budget now spaces messages
            await asyncio.to_thread(
                Escalations(engine).once, theft.id, P1_REALERT_FLAG, P1_REALERT_FLAG, {"waited_seconds": 120}
            )
            fees = await asyncio.to_thread(
                store.open_case, intent="fees_and_limits", priority=3, channel="rest", sender_id="w", summary="fees",
                details={},
            )  # fmt: skip
            await until(lambda: ledger.counts("telegram_group") == {"pending": 0, "delivered": 3}, 10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    sent = texts()
    assert len(sent) == 2 and all(len(text) <= 4096 for text in sent)
    assert fees.id in sent[1] and "Still unclaimed, everyone please look</b>: " + theft.id in sent[1]
    assert " more\n" in sent[1] and 'tg://user?id=1000000000"' in sent[1]  # named up to the limit, the rest counted
    assert len(budget._sent) == len(sent), "the budget counts the messages that went"
    engine.dispose()
