"""The case store on SQLite and PostgreSQL: cases, outbox in the same transaction, queue, ownership."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bot.cases.database import make_engine
from bot.cases.schema import outbox
from bot.cases.store import CLAIMED, OPEN, CaseStore, TranscriptLine


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    yield CaseStore(engine, default_wait_minutes=7)
    engine.dispose()


def _open(store, priority=2, intent="withdrawal_stuck", sender="alice"):
    return store.open_case(
        intent=intent,
        priority=priority,
        channel="rest",
        sender_id=sender,
        summary="withdrawal pending",
        details={"coin": "BTC"},
        transcript=[TranscriptLine(role="customer", text="my btc withdrawal is stuck")],
    )


def _events(store, case_id):
    with store.engine.connect() as conn:
        return [r.event for r in conn.execute(select(outbox).where(outbox.c.case_id == case_id).order_by(outbox.c.id))]


def test_open_case_writes_case_transcript_and_alert(store):
    case = _open(store)
    assert case.id.startswith("CX-") and len(case.id) == 9
    assert case.status == OPEN and case.details == {"coin": "BTC"}
    assert [line.text for line in store.transcript(case.id)] == ["my btc withdrawal is stuck"]
    assert _events(store, case.id) == ["case_opened"]
    assert store.active_case("rest", "alice") == case


def _open_by_message(store, sender, message_id, channel="telegram"):
    return store.open_case(
        intent="suspected_theft",
        priority=1,
        channel=channel,
        sender_id=sender,
        summary="hacked",
        details={},
        opened_by_message=message_id,
    )


def test_the_same_turn_run_again_gets_its_case_back_not_a_second_one(store):
    """A turn replayed after a crash or a failed action call opens its case once and alerts once."""
    first = _open_by_message(store, "tg:7:7", "tg-41")
    assert _open_by_message(store, "tg:7:7", "tg-41") == first
    assert _events(store, first.id) == ["case_opened"]
    later = _open_by_message(store, "tg:7:7", "tg-42")
    other = _open_by_message(store, "tg:8:8", "tg-41")
    assert len({first.id, later.id, other.id}) == 3  # another message, another customer: their own cases
    assert _open(store).id != _open(store).id  # no message id (the desk, tests): every call opens one


def test_two_tries_of_one_turn_at_once_open_one_case(store):
    """The unique index decides when two processes run the same turn at the same moment."""
    opened, barrier = [], threading.Barrier(4)

    def open_it():
        barrier.wait()
        opened.append(_open_by_message(store, "x:9", "x-dm-77", channel="x"))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(opened) == 4 and len({case.id for case in opened}) == 1
    assert _events(store, opened[0].id) == ["case_opened"]


def test_a_keyed_line_is_kept_once_and_forwarded_to_the_agent_once(store):
    """A turn run again records its customer line and replies again: the case keeps and forwards one copy."""
    case = _open(store)
    store.claim(case.id, "agent-ann")
    said = TranscriptLine(role="customer", text="still waiting", author="alice", key="tg-51")
    first = store.record_message(case.id, said)
    assert store.record_message(case.id, said) == first
    reply = TranscriptLine(role="bot", text="An agent has it.", key="tg-51 utter_agent_has_it#0")
    assert store.record_message(case.id, reply) == store.record_message(case.id, reply)
    store.record_message(case.id, TranscriptLine(role="customer", text="still waiting", author="alice"))  # no key
    store.record_message(case.id, TranscriptLine(role="customer", text="still waiting", author="alice", key="tg-52"))
    texts = [line.text for line in store.transcript(case.id)]
    assert texts == ["my btc withdrawal is stuck", "still waiting", "An agent has it.", *["still waiting"] * 2]
    assert _events(store, case.id).count("customer_message") == 3
    assert store.record_message(_open(store).id, said) != first  # the key is per case
    twice = store.open_case(intent="suspected_theft", priority=1, channel="telegram", sender_id="tg:3:3",
                            summary="hacked", details={}, transcript=[said, said])  # fmt: skip
    assert [line.text for line in store.transcript(twice.id)] == ["still waiting"]  # one line, and the case opened


def test_details_merge_and_each_update_alerts(store):
    case = _open(store)
    store.add_details(case.id, {"amount": "0.5", "txid": None})
    store.add_details(case.id, {"network": "BTC"})
    assert store.get(case.id).details == {"coin": "BTC", "amount": "0.5", "network": "BTC"}
    assert _events(store, case.id) == ["case_opened", "case_updated", "case_updated"]


def test_queue_place_counts_higher_or_equal_priority_ahead(store):
    first = _open(store, priority=2, sender="a")
    urgent = _open(store, priority=1, sender="b")
    later = _open(store, priority=2, sender="c")
    low = _open(store, priority=4, sender="d")
    assert store.queue_info(urgent.id).place == 1
    assert store.queue_info(first.id).place == 2
    assert store.queue_info(later.id).place == 3
    assert store.queue_info(low.id).place == 4
    assert store.queue_info(later.id).estimated_wait_minutes == 3 * 7  # default while no history


def test_one_claim_wins_and_customer_messages_are_forwarded(store):
    case = _open(store)
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def claim(agent):
        barrier.wait()
        results.append(store.claim(case.id, agent))

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert store.human_owns("rest", "alice").status == CLAIMED
    store.record_message(case.id, TranscriptLine(role="customer", text="any news?"))
    assert _events(store, case.id)[-1] == "customer_message"
    assert store.resolve(case.id, "ann")
    assert store.human_owns("rest", "alice") is None
    assert store.active_case("rest", "alice") is None


def test_a_line_and_what_is_written_with_it_are_kept_together_or_not_at_all(store):
    case = _open(store)
    written: list[int] = []

    line_id = store.record_message(
        case.id, TranscriptLine(role="agent", text="hello"), with_line=lambda conn, line_id: written.append(line_id)
    )
    assert written == [line_id] and store.transcript(case.id)[-1].id == line_id

    def fail(conn, line_id: int) -> None:
        raise RuntimeError("the outbox row could not be written")

    with pytest.raises(RuntimeError):
        store.record_message(case.id, TranscriptLine(role="agent", text="lost"), with_line=fail)
    assert [line.text for line in store.transcript(case.id)][-1] == "hello"


def test_cancel_only_before_an_agent_claims(store):
    case = _open(store)
    assert store.claim(case.id, "ann")
    assert not store.cancel(case.id)
    other = _open(store, sender="zed")
    assert store.cancel(other.id)
    assert store.get(other.id).status == "cancelled"


def test_a_rating_takes_one_comment_and_a_skip_counts_as_the_answer(store):
    case = _open(store)
    assert not store.comment_on_rating(case.id, "too early"), "no comment before a rating"
    store.resolve(case.id, "ann")
    store.rate(case.id, 4)
    rated = store.get(case.id)
    assert rated.rating == 4 and rated.rated_at is not None and rated.rating_comment is None
    assert store.comment_on_rating(case.id, "quick and kind")
    assert not store.comment_on_rating(case.id, "a second message"), "the first answer counts"
    assert store.get(case.id).rating_comment == "quick and kind"
    other = _open(store, sender="bob")
    store.resolve(other.id, "ann")
    store.rate(other.id, 2)
    assert store.comment_on_rating(other.id, "")  # skipped
    assert not store.comment_on_rating(other.id, "changed my mind") and store.get(other.id).rating_comment == ""
