import asyncio
import collections
import contextlib

import aiohttp

from bot.cases.agents import DutyRoster
from bot.cases.database import make_engine
from bot.cases.deliveries import Backoff, Delivery, DeliveryLedger
from bot.cases.store import CaseStore
from bot.desk.budget import SendBudget
from bot.desk.destinations import Webhook
from bot.desk.dispatcher import Dispatcher
from tests.auxil.desk_webhook_receiver import WebhookReceiver
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

    async def deliver(self, delivery: Delivery) -> None:
        self.sent.append((delivery.case_id, delivery.event))


async def test_a_p1_alert_goes_out_at_once_when_lower_priorities_used_up_their_share(database_url):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    ledger = DeliveryLedger(engine)
    group = RecordingGroup(SendBudget(per_minute=5, kept_for_p1=2))
    task = asyncio.create_task(Dispatcher(ledger, [group], poll_seconds=0.02).run())
    try:
        routine = await asyncio.to_thread(_open, store, 4)  # 8 rows of P2 cases: only 3 fit their share
        await until(lambda: len(group.sent) >= 3, 5)
        await asyncio.sleep(0.3)  # passes go on; the budget holds the rest back
        assert len(group.sent) == 3 and {case for case, _ in group.sent} <= set(routine)
        theft = await asyncio.to_thread(
            store.open_case, intent="suspected_theft", priority=1, channel="rest", sender_id="victim",
            summary="account drained", details={},
        )  # fmt: skip
        await until(lambda: (theft.id, "case_opened") in group.sent, 5)
        assert ledger.counts("group")["pending"] == 5, "the other P2 rows wait for the window, not failed"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()


def test_the_budget_keeps_its_last_messages_for_p1_and_frees_them_as_the_minute_moves():
    now = [0.0]
    budget = SendBudget(per_minute=3, kept_for_p1=1, clock=lambda: now[0])
    for _ in range(2):
        assert budget.wait_seconds(3) == 0
        budget.spend()
        now[0] += 10
    assert budget.wait_seconds(3) == 40.0  # the first send leaves the window at 60 s
    assert budget.wait_seconds(1) == 0
    budget.spend()
    assert budget.wait_seconds(1) == 40.0
    now[0] = 60.0
    assert budget.wait_seconds(3) == 10.0 and budget.wait_seconds(1) == 0
