"""``txid_expected``: the conversation is read only for a message that holds a bare hash."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from connectors.rasa_bridge import txid_expected

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
