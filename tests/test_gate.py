"""The gate every channel uses: redaction notices, handoff to a human, the after-case rating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mnemonic import Mnemonic
from rasa.core.actions.action import create_bot_utterance
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import UserUttered
from rasa_sdk import Tracker
from sqlalchemy import update

from bot.actions.case_access import transcript_of
from bot.cases.database import make_engine
from bot.cases.redaction import redact
from bot.cases.schema import cases
from bot.cases.store import CaseStore, utcnow
from connectors.gate import (
    AMBIGUOUS_HASH_NOTICE,
    RATING_COMMENT_SKIPPED,
    RATING_COMMENT_THANKS,
    RATING_THANKS,
    SECRET_NOTICE,
    SKIP_COMMENT,
    ConversationGate,
)
from connectors.rasa_bridge import TranscribingOutputChannel
from tests.auxil.threads import LoopSpy


@pytest.fixture
def gate(sqlite_url):
    engine = make_engine(sqlite_url)
    yield ConversationGate(CaseStore(engine))
    engine.dispose()


def _open(store: CaseStore, sender: str = "u1"):
    return store.open_case(
        intent="suspected_theft", priority=1, channel="rest", sender_id=sender, summary="hacked", details={}
    )


async def test_secret_is_redacted_and_the_customer_warned(gate):
    seed = Mnemonic("english").to_mnemonic(bytes(range(16)))
    admission = await gate.admit(channel="rest", sender_id="u1", text=f"seed: {seed}")
    assert admission.notices == (SECRET_NOTICE,)
    assert seed.split()[3] not in admission.text
    assert admission.for_bot


async def test_redaction_runs_in_a_thread_not_on_the_event_loop(gate, monkeypatch):
    spy = LoopSpy(redact)
    monkeypatch.setattr("connectors.gate.redact", spy)
    await gate.admit(channel="rest", sender_id="u1", text="my password: hunter2")
    assert spy.on_loop == [False]


async def test_bare_hash_is_kept_only_when_a_txid_was_asked_for(gate):
    tx = "ab" * 32
    assert (await gate.admit(channel="rest", sender_id="u1", text=tx)).notices == (AMBIGUOUS_HASH_NOTICE,)
    kept = await gate.admit(channel="rest", sender_id="u1", text=tx, txid_expected=True)
    assert kept.text == tx and kept.notices == ()


async def test_claimed_conversation_goes_to_the_agent_not_the_bot(gate):
    case = _open(gate.store)
    assert (await gate.admit(channel="rest", sender_id="u1", text="still waiting")).for_bot
    gate.store.claim(case.id, "ann")
    admission = await gate.admit(channel="rest", sender_id="u1", text="hello? my otp is 123456")
    assert not admission.for_bot and admission.human_case.id == case.id
    assert [line.text for line in gate.store.transcript(case.id)][-1] == "hello? my otp is [REDACTED]"


async def test_rating_after_resolution_is_stored_once_and_not_sent_to_the_bot(gate):
    case = _open(gate.store)
    gate.store.claim(case.id, "ann")
    gate.store.resolve(case.id, "ann")
    admission = await gate.admit(channel="rest", sender_id="u1", text="5")
    assert not admission.for_bot and admission.notices == (RATING_THANKS,)
    assert gate.store.get(case.id).rating == 5
    assert (await gate.admit(channel="rest", sender_id="u1", text="4")).for_bot, "a case is rated once"
    assert gate.store.get(case.id).rating == 5


async def test_a_rating_whose_turn_runs_again_is_thanked_again_not_taken_for_its_comment(gate):
    """A crash or a database blip after the rating was stored, before the thanks went out: the same message
    again. Before, the case was rated already, so "4" became the rating's comment and was kept twice."""
    case = _open(gate.store, "u4")
    gate.store.resolve(case.id, "ann")
    for _try in range(2):
        admission = await gate.admit(channel="rest", sender_id="u4", text="4", message_id="rest-70")
        assert admission.rated_case.id == case.id and admission.notices == (RATING_THANKS,)
        assert admission.comment_case is None and not admission.for_bot
    rated = gate.store.get(case.id)
    assert (rated.rating, rated.rating_comment) == (4, None)
    assert [line.text for line in gate.store.transcript(case.id)] == ["4"]
    another = await gate.admit(channel="rest", sender_id="u4", text="5", message_id="rest-71")
    assert another.rated_case is None and another.comment_case.id == case.id  # a new message may be the comment


async def _rated(gate: ConversationGate, sender: str = "u1"):
    case = _open(gate.store, sender)
    gate.store.resolve(case.id, "ann")
    assert (await gate.admit(channel="rest", sender_id=sender, text="4")).rated_case.id == case.id
    return case


async def test_the_message_after_a_rating_may_be_its_comment_kept_redacted_on_the_case(gate):
    case = await _rated(gate)
    admission = await gate.admit(channel="rest", sender_id="u1", text="fast help, my otp was 123456")
    assert admission.comment_case.id == case.id and admission.for_bot  # the channel asks the NLU first
    assert await gate.keep_comment(admission.comment_case, "u1", admission.text)
    assert gate.store.get(case.id).rating_comment == "fast help, my otp was [REDACTED]"
    assert gate.store.transcript(case.id)[-1].text == "fast help, my otp was [REDACTED]"
    assert (await gate.admit(channel="rest", sender_id="u1", text="hello")).comment_case is None, "one comment"


async def test_a_comment_whose_turn_runs_again_is_thanked_again_not_sent_to_the_bot(gate):
    """The comment was kept, then a crash came before the thanks went out. Before, the same message run again
    found the question answered and went to the bot as a new message."""
    case = await _rated(gate)
    said = "quick and friendly"
    admission = await gate.admit(channel="rest", sender_id="u1", text=said, message_id="rest-81")
    assert admission.comment_case.id == case.id and admission.message_id == "rest-81"
    assert await gate.keep_comment(admission.comment_case, "u1", admission.text, admission.message_id)
    again = await gate.admit(channel="rest", sender_id="u1", text=said, message_id="rest-81")
    assert not again.for_bot and again.notices == (RATING_COMMENT_THANKS,)
    assert [line.text for line in gate.store.transcript(case.id)] == ["4", said]
    later = await gate.admit(channel="rest", sender_id="u1", text=said, message_id="rest-82")
    assert later.for_bot and later.comment_case is None  # the same words in a new message: for the bot


async def test_skip_closes_the_comment_question_and_never_reaches_the_bot(gate):
    case = await _rated(gate)
    skipped = await gate.admit(channel="rest", sender_id="u1", text=SKIP_COMMENT)
    assert not skipped.for_bot and skipped.notices == (RATING_COMMENT_SKIPPED,)
    assert gate.store.get(case.id).rating_comment == ""
    assert (await gate.admit(channel="rest", sender_id="u1", text="one more thing")).comment_case is None
    assert not (await gate.admit(channel="rest", sender_id="u1", text=SKIP_COMMENT)).for_bot, "a late tap too"


async def test_a_passed_over_or_late_message_is_not_a_comment(gate):
    case = await _rated(gate)
    await gate.pass_over_comment((await gate.admit(channel="rest", sender_id="u1", text="/greet")).comment_case)
    assert (await gate.admit(channel="rest", sender_id="u1", text="thanks")).comment_case is None
    late = await _rated(gate, "u2")
    with gate.store.engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.id == late.id).values(rated_at=utcnow() - timedelta(minutes=11)))
    assert (await gate.admit(channel="rest", sender_id="u2", text="thanks")).comment_case is None
    assert gate.store.get(case.id).rating_comment == "" and gate.store.get(late.id).rating_comment is None


async def test_a_lone_surrogate_is_replaced_before_anything_stores_the_text(gate):
    """Found by an outside test: JSON may carry "\\ud800"; the case store and the NLU crashed on it."""
    case = gate.store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id="rest:s",
                                 summary="x", details={})  # fmt: skip
    admission = await gate.admit(channel="rest", sender_id="rest:s", text="\ud800 hi \ud83d\ude00")
    assert admission.text == "\ufffd hi \U0001f600"
    assert admission.text.encode("utf-8")
    assert gate.store.transcript(case.id)[-1].text == "\ufffd hi \U0001f600"


async def test_a_nul_character_is_dropped_before_anything_stores_the_text(database_url):
    """An outside test: PostgreSQL stores no NUL, and a theft report with one opened no case at every try."""
    engine = make_engine(database_url)
    try:
        gate = ConversationGate(CaseStore(engine))
        case = _open(gate.store, "nul")
        admission = await gate.admit(channel="rest", sender_id="nul", text="someone stole my account\x00help")
        assert admission.text == "someone stole my account help"
        assert gate.store.transcript(case.id)[-1].text == "someone stole my account help"
        code = await gate.admit(channel="rest", sender_id="nul", text="my 2fa code is\x00482913")  # a review
        assert "482913" not in code.text
    finally:
        engine.dispose()


async def test_the_case_follows_the_language_the_customer_writes_in(gate):
    case = _open(gate.store)
    korean = await gate.admit(channel="rest", sender_id="u1", text="USDT 출금이 아직 안 왔어요")
    assert korean.language == "ko" and gate.store.get(case.id).language == "ko"
    unclear = await gate.admit(channel="rest", sender_id="u1", text="0.5 USDT")  # no evidence: unchanged
    assert unclear.language is None and gate.store.get(case.id).language == "ko"
    await gate.admit(channel="rest", sender_id="u1", text="我的提现还没到")
    assert gate.store.get(case.id).language == "zh"


async def test_a_turn_run_again_after_its_case_opened_adds_no_line_twice(gate):
    """The first try opened the case from the tracker's lines; the second finds the case open and says it all
    again. Lines are keyed alike on both sides (Rasa's own events and messages), so each is kept once."""
    sender, theft = "tg:5:5", "someone emptied my account"
    asked = create_bot_utterance({"text": "Which coin was taken?", "utter_action": "utter_ask_coin"})
    free_text = create_bot_utterance({"text": "Looking into it."})  # a custom action's text, no response name
    events = [UserUttered("hi", message_id="tg-1"), UserUttered(theft, message_id="tg-2"), asked, free_text]
    tracker = Tracker.from_dict({"sender_id": sender, "slots": {}, "latest_message": {},
                                 "events": [event.as_dict() for event in events]})  # fmt: skip
    case = gate.store.open_case(intent="suspected_theft", priority=1, channel="telegram", sender_id=sender,
                                summary="hacked", details={}, transcript=transcript_of(tracker),
                                opened_by_message="tg-2")  # fmt: skip
    opened = "Your case number is CX-1."
    for _try in range(2):
        await gate.admit(channel="telegram", sender_id=sender, text=theft, message_id="tg-2")
        output = TranscribingOutputChannel(CollectingOutputChannel(), gate, "telegram", "tg-2")
        for said in (asked, free_text, create_bot_utterance({"text": opened, "utter_action": "utter_case_opened"})):
            await output.send_response(sender, said.message())
    assert [line.text for line in gate.store.transcript(case.id)] == [
        "hi", theft, asked.text, free_text.text, opened
    ]
    await gate.admit(channel="telegram", sender_id=sender, text=theft, message_id="tg-3")  # sent again: a line
    assert [line.text for line in gate.store.transcript(case.id)][-2:] == [opened, theft]
