"""The SLA stops at the first agent reply; "waiting" counts from the oldest unanswered customer message."""

from datetime import timedelta

from bot.cases.database import make_engine
from bot.cases.queue import reply_times
from bot.cases.store import CaseStore, TranscriptLine, utcnow
from bot.desk.sla import BREACHED, MET, RUNNING, sla_fields

SLA = {1: 5, 2: 30, 3: 240, 4: 1440}


def _line(role: str, text: str, minutes_after, start):
    return TranscriptLine(role=role, text=text, author="alice" if role == "agent" else None, at=start + minutes_after)


def test_reply_times_and_sla_on_both_databases(database_url):
    engine = make_engine(database_url)
    try:
        store = CaseStore(engine)
        start = utcnow() - timedelta(minutes=20)
        case = store.open_case(
            intent="suspected_theft",
            priority=1,
            channel="rest",
            sender_id="web-1",
            summary="s",
            details={},
            transcript=[_line("customer", "help", timedelta(0), start)],
        )
        untouched = store.open_case(
            intent="other", priority=3, channel="rest", sender_id="web-2", summary="s", details={}
        )
        times = reply_times(engine, [case.id, untouched.id])
        assert times[untouched.id].first_reply_at is None and times[untouched.id].waiting_since is None
        assert times[case.id].first_reply_at is None and times[case.id].waiting_since == start
        assert sla_fields(case, times[case.id], SLA)["sla_state"] == RUNNING  # still counting, though overdue

        store.record_message(case.id, _line("bot", "An agent has taken your case", timedelta(minutes=1), start))
        store.record_message(case.id, _line("note", "checking the ledger", timedelta(minutes=2), start))
        assert reply_times(engine, [case.id])[case.id].first_reply_at is None  # notices and notes are no reply
        replied = start + timedelta(minutes=3)
        store.record_message(case.id, _line("agent", "we froze it", timedelta(minutes=3), start))
        times = reply_times(engine, [case.id])
        assert times[case.id].first_reply_at == replied and times[case.id].waiting_since is None
        late = case.__class__(**{**case.__dict__, "created_at": start})
        assert sla_fields(late, times[case.id], SLA)["sla_state"] == MET  # 3 min against P1's 5
        assert sla_fields(late, times[case.id], {**SLA, 1: 2})["sla_state"] == BREACHED

        store.record_message(case.id, _line("customer", "still there?", timedelta(minutes=10), start))
        store.record_message(case.id, _line("customer", "hello??", timedelta(minutes=12), start))
        times = reply_times(engine, [case.id])
        assert times[case.id].waiting_since == start + timedelta(minutes=10)  # the oldest unanswered one
        assert times[case.id].first_reply_at == replied  # the SLA stays stopped
    finally:
        engine.dispose()
