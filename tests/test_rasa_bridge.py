"""``txid_expected`` reads the conversation only for a bare hash; ``rating_comment`` keeps no new problem;
a form an agent overtook ends once the agent resolved the case."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.cases.database import make_engine
from bot.cases.store import CaseStore
from connectors.gate import ConversationGate
from connectors.rasa_bridge import end_form_an_agent_overtook, rating_comment, txid_expected

HASH = "9f" * 32
DOMAIN = Domain.from_dict({"slots": {"requested_slot": {"type": "any", "mappings": [{"type": "custom"}]}}})


class CountingStore(InMemoryTrackerStore):
    """Rasa's in-memory store, counting reads."""

    def __init__(self) -> None:
        super().__init__(DOMAIN)
        self.reads = 0

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        self.reads += 1
        return await super().retrieve(sender_id)


async def _app_asking(slot: str | None) -> tuple[Any, CountingStore]:
    store = CountingStore()
    tracker = DialogueStateTracker("rest:abc", DOMAIN.slots)
    tracker.update(SlotSet("requested_slot", slot))
    await store.save(tracker)
    return SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))), store


async def test_a_bare_hash_is_a_txid_only_when_the_bot_asked_for_one():
    asked, _ = await _app_asking("txid")
    other, _ = await _app_asking("amount")
    assert await txid_expected(asked, "rest:abc", f"here: {HASH}")
    assert not await txid_expected(other, "rest:abc", f"here: {HASH}")


async def test_a_message_without_a_hash_never_reads_the_conversation():
    app, store = await _app_asking("txid")
    assert not await txid_expected(app, "rest:abc", "my withdrawal is stuck since this morning")
    assert store.reads == 0
    await txid_expected(app, "rest:abc", HASH)
    assert store.reads == 1


async def test_after_a_rating_small_talk_is_the_comment_and_a_p1_p2_report_or_command_is_not(served_agent, sqlite_url):
    engine = make_engine(sqlite_url)
    gate = ConversationGate(CaseStore(engine))
    app = SimpleNamespace(ctx=SimpleNamespace(agent=served_agent, conversation_gate=gate))

    async def said_after_a_rating(sender: str, text: str):
        case = gate.store.open_case(
            intent="other", priority=3, channel="rest", sender_id=sender, summary="s", details={}
        )
        gate.store.resolve(case.id, "ann")
        await gate.admit(channel="rest", sender_id=sender, text="3")
        return case, await rating_comment(app, await gate.admit(channel="rest", sender_id=sender, text=text), sender)

    try:
        case, kept = await said_after_a_rating("kind", "The agent was quick and kind, thank you")
        assert kept.kept and gate.store.get(case.id).rating_comment == "The agent was quick and kind, thank you"
        for sender, report, intent in (
            ("theft", "someone logged into my account and withdrew all my BTC, it wasn't me", "suspected_theft"),
            ("stuck", "my USDT withdrawal has been pending for 5 hours", "withdrawal_stuck"),
        ):
            case, passed = await said_after_a_rating(sender, report)
            assert not passed.kept and passed.parse_data["intent"]["name"] == intent, "Rasa takes the one parse"
            assert gate.store.get(case.id).rating_comment == "", "the question is closed, nothing kept"
        case, command = await said_after_a_rating("command", "/request_human")
        assert not command.kept and command.parse_data is None
        assert gate.store.get(case.id).rating_comment == ""
    finally:
        engine.dispose()


async def test_the_form_an_agent_took_over_ends_with_the_resolution_and_only_then(sqlite_url):
    """The P1 flow opens the case, then asks for details: an agent claims before the form ends."""
    engine = make_engine(sqlite_url)
    gate = ConversationGate(CaseStore(engine))
    trackers = CountingStore()
    agent = SimpleNamespace(tracker_store=trackers, lock_store=InMemoryLockStore())
    app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))

    async def in_the_form(sender: str) -> None:
        tracker = DialogueStateTracker(sender, DOMAIN.slots)
        tracker.update(ActiveLoop("case_details_form"))
        tracker.update(SlotSet("requested_slot", "account_id"))
        await trackers.save(tracker)

    async def next_message(sender: str, *, agent: str | None = "ann") -> DialogueStateTracker:
        case = gate.store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id=sender,
                                    summary="s", details={})  # fmt: skip
        if agent is not None:
            assert gate.store.claim(case.id, agent)
        gate.store.resolve(case.id, agent or "auto")
        admission = await gate.admit(channel="rest", sender_id=sender, text="my account was hacked again")
        await end_form_an_agent_overtook(app, admission, sender)
        tracker = await trackers.retrieve(sender)
        assert tracker is not None
        return tracker

    try:
        await in_the_form("rest:overtaken")
        tracker = await next_message("rest:overtaken")
        assert tracker.active_loop_name is None and tracker.get_slot("requested_slot") is None

        await in_the_form("rest:no-agent")
        reads = trackers.reads
        tracker = await next_message("rest:no-agent", agent=None)  # closed without an agent: not read, not changed
        assert trackers.reads == reads + 1 and tracker.active_loop_name == "case_details_form"

        await next_message("rest:overtaken")  # a second case resolved; then the bot starts a new form
        await in_the_form("rest:overtaken")
        admission = await gate.admit(channel="rest", sender_id="rest:overtaken", text="my account id is 4411")
        await end_form_an_agent_overtook(app, admission, "rest:overtaken")
        kept = await trackers.retrieve("rest:overtaken")
        assert kept is not None and kept.active_loop_name == "case_details_form", "a form begun after it stays"
    finally:
        engine.dispose()
