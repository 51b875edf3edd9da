"""The X inbox on SQLite and PostgreSQL: stored once and redacted, each user's events in order, claims."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.database import make_engine
from connectors.twitter.inbox import DONE, FAILED, PENDING, XInbox, x_inbox
from connectors.twitter.sender import DmEvent, Mention
from connectors.twitter.state import DM, MENTION

SEED = "abandon ability able about above absent absorb abstract absurd abuse access accident"
LEASE = 60.0


@pytest.fixture
def engine(database_url: str) -> Engine:
    return make_engine(database_url)


def dm(event_id: int, sender: str, text: str = "hello") -> DmEvent:
    return DmEvent(id=str(event_id), text=text, sender_id=sender, conversation_id=f"1000-{sender}")


def mention(tweet_id: int, author: str, text: str = "@ExampleSupport hi") -> Mention:
    return Mention(
        id=str(tweet_id),
        text=text,
        author_id=author,
        author_username="alice",
        conversation_id=str(tweet_id),
        referenced=(("replied_to", "7"),),
    )


def row(engine: Engine, kind: str, event_id: str) -> dict:
    with engine.connect() as conn:
        found = conn.execute(select(x_inbox).where(x_inbox.c.kind == kind, x_inbox.c.event_id == event_id)).one()
    return dict(found._mapping)


def test_stored_once_with_secrets_redacted_and_read_back_whole(engine: Engine) -> None:
    inbox = XInbox(engine)
    events = [mention(900, "21", f"@ExampleSupport my seed is {SEED}"), dm(901, "22")]
    assert inbox.store(events) == 2
    assert inbox.store([*events, dm(902, "22")]) == 1  # X delivers again: only the new one is kept
    assert inbox.known(DM, ["901", "902", "903"]) == {"901", "902"}
    stored = row(engine, MENTION, "900")
    assert SEED.split()[3] not in str(stored["payload"]) and stored["status"] == PENDING

    first = inbox.claim_next(LEASE)
    assert first is not None and first.event.id == "900" and first.redacted == ("seed_phrase",)
    assert isinstance(first.event, Mention) and first.event.referenced == (("replied_to", "7"),)
    inbox.done(first)
    assert row(engine, MENTION, "900")["payload"] is None  # the text goes once handled


def test_half_a_utf16_pair_is_stored_as_a_replacement_character_not_refused(engine: Engine) -> None:
    """Found by outside tests: JSON may escape one alone, in a text or a user name, and the UTF-8 store refused
    the delivery, every event in it, at each try."""
    inbox = XInbox(engine)
    named = Mention(id="951", text="@ExampleSupport hi", author_id="24", author_username="al\udc00ce",
                    conversation_id="951", referenced=(("replied_to", "7\ud800"),))  # fmt: skip
    assert inbox.store([dm(950, "23", "my withdrawal \ud800 is stuck \U0001f600"), named]) == 2
    item = inbox.claim_next(LEASE)
    assert item is not None and item.event.text == "my withdrawal \ufffd is stuck \U0001f600"
    mention_item = inbox.claim_next(LEASE)
    assert isinstance(mention_item.event, Mention) and mention_item.event.author_username == "al\ufffdce"
    assert mention_item.event.referenced == (("replied_to", "7\ufffd"),)


def test_a_users_later_event_waits_for_the_earlier_one_others_do_not(engine: Engine) -> None:
    inbox = XInbox(engine)
    inbox.store([dm(1_000_000_000_000_000_003, "31"), dm(99, "32"), dm(1_000_000_000_000_000_001, "31")])
    first = inbox.claim_next(LEASE)
    assert first is not None and first.event.id == "99"  # by id as a number, not as text
    inbox.done(first)
    earlier = inbox.claim_next(LEASE)
    assert earlier is not None and earlier.event.id == "1000000000000000001"
    assert inbox.claim_next(LEASE) is None  # "31"'s next event waits while this one is being handled

    inbox.retry(earlier, "RuntimeError: broke", 30.0, counted=True)
    assert inbox.claim_next(LEASE) is None  # and while it waits for its next try
    assert inbox.next_due() == pytest.approx(time.time() + 30.0, abs=5)

    inbox.set_aside(earlier, "RuntimeError: broke again")
    later = inbox.claim_next(LEASE)
    assert later is not None and later.event.id == "1000000000000000003"
    kept = row(engine, DM, "1000000000000000001")
    assert (kept["status"], kept["failures"], kept["attempts"]) == (FAILED, 2, 2)
    assert kept["error"] == "RuntimeError: broke again" and kept["payload"]["text"] == "hello"


def test_a_claimed_event_is_not_handed_out_twice_until_its_claim_runs_out(engine: Engine) -> None:
    one, two = XInbox(engine), XInbox(engine)  # two server processes
    one.store([dm(500, "41")])
    item = one.claim_next(0.5)
    assert item is not None and two.claim_next(LEASE) is None
    time.sleep(0.6)  # the first process died while handling it
    again = two.claim_next(LEASE)
    assert again is not None and again.event.id == "500"
    two.retry(again, "XUnavailable: dm_send", 0.0, counted=False)
    retried = two.claim_next(LEASE)
    assert retried is not None and (retried.attempts, retried.failures) == (1, 0)
    two.done(retried)
    assert row(engine, DM, "500")["status"] == DONE and two.next_due() is None
