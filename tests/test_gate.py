"""The gate every channel uses: redaction notices, handoff to a human, the after-case rating."""

from __future__ import annotations

import pytest
from mnemonic import Mnemonic

from bot.cases.database import make_engine
from bot.cases.redaction import redact
from bot.cases.store import CaseStore
from connectors.gate import AMBIGUOUS_HASH_NOTICE, RATING_THANKS, SECRET_NOTICE, ConversationGate
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


async def test_a_lone_surrogate_is_replaced_before_anything_stores_the_text(gate):
    """Found by an outside test: JSON may carry "\\ud800"; the case store and the NLU crashed on it."""
    case = gate.store.open_case(intent="suspected_theft", priority=1, channel="rest", sender_id="rest:s",
                                 summary="x", details={})  # fmt: skip
    admission = await gate.admit(channel="rest", sender_id="rest:s", text="\ud800 hi \ud83d\ude00")
    assert admission.text == "\ufffd hi \U0001f600"
    assert admission.text.encode("utf-8")
    assert gate.store.transcript(case.id)[-1].text == "\ufffd hi \U0001f600"


async def test_the_case_follows_the_language_the_customer_writes_in(gate):
    case = _open(gate.store)
    korean = await gate.admit(channel="rest", sender_id="u1", text="USDT 출금이 아직 안 왔어요")
    assert korean.language == "ko" and gate.store.get(case.id).language == "ko"
    unclear = await gate.admit(channel="rest", sender_id="u1", text="0.5 USDT")  # no evidence: unchanged
    assert unclear.language is None and gate.store.get(case.id).language == "ko"
    await gate.admit(channel="rest", sender_id="u1", text="我的提现还没到")
    assert gate.store.get(case.id).language == "zh"
