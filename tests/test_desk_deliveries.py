"""The delivery ledger and the small tables beside it, on SQLite and PostgreSQL."""

import dataclasses
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from bot.cases.agents import DeskSessions, DutyRoster, on_duty_count
from bot.cases.database import make_engine
from bot.cases.deliveries import Backoff, DeliveryLedger
from bot.cases.escalations import Escalations
from bot.cases.schema import outbox
from bot.cases.store import CaseStore
from bot.desk.passwords import check_password, hash_password
from bot.desk.settings import DeskSettings
from bot.settings import PROJECT_ROOT


def _store(url: str) -> CaseStore:
    return CaseStore(make_engine(url))


def _case(store: CaseStore, priority: int = 2, sender: str = "c1"):
    return store.open_case(
        intent="withdrawal_stuck", priority=priority, channel="rest", sender_id=sender, summary="s", details={}
    )


def test_a_crash_after_the_send_but_before_the_record_redelivers_once(database_url):
    store = _store(database_url)
    case = _case(store)
    ledger = DeliveryLedger(store.engine, lease_seconds=0.3)
    ledger.plan(["group"])
    sent = ledger.claim_due("group")
    assert [d.case_id for d in sent] == [case.id]
    # the process dies here: the destination got it, the ledger never heard back
    assert ledger.claim_due("group") == []  # leased, nobody else sends it meanwhile
    time.sleep(0.35)
    again = ledger.claim_due("group")
    assert [d.outbox_id for d in again] == [sent[0].outbox_id]  # the one accepted duplicate
    ledger.delivered([again[0]])
    time.sleep(0.35)
    assert ledger.claim_due("group") == []
    assert ledger.counts("group") == {"pending": 0, "delivered": 1}
    store.engine.dispose()


def test_failures_back_off_exponentially_and_urgent_cases_go_first(database_url):
    store = _store(database_url)
    slow = _case(store, priority=3, sender="a")
    urgent = _case(store, priority=1, sender="b")
    ledger = DeliveryLedger(store.engine, backoff=Backoff(base_seconds=10, max_seconds=25))
    ledger.plan(["hook"])
    due = ledger.claim_due("hook")
    assert [d.case_id for d in due] == [urgent.id, slow.id]
    assert ledger.failed(due[0], "down") == 10  # first failure
    assert ledger.failed(dataclasses.replace(due[0], attempts=1), "down") == 20  # second
    assert ledger.failed(dataclasses.replace(due[0], attempts=2), "down") == 25  # capped
    assert Backoff(10, 25).delay(5) == 25
    assert [d.case_id for d in ledger.claim_due("hook")] == []  # both wait: one leased, one backing off
    store.engine.dispose()


def test_alert_message_ids_map_replies_to_cases(database_url):
    store = _store(database_url)
    one, two = _case(store, sender="a"), _case(store, sender="b")
    ledger = DeliveryLedger(store.engine)
    ledger.remember_alert_message(one.id, -100, 7)
    ledger.remember_alert_message(two.id, -100, 8)
    ledger.remember_alert_message(one.id, -100, 9)
    ledger.remember_alert_message(one.id, -100, 9)  # a redelivery records nothing new
    assert ledger.case_for_message(-100, 9) == one.id
    assert ledger.case_for_message(-100, 8) == two.id
    assert ledger.case_for_message(-200, 8) is None
    assert ledger.first_alert_message(one.id, -100) == 7
    store.engine.dispose()


def test_escalation_steps_happen_once_with_their_outbox_row(database_url):
    store = _store(database_url)
    case = _case(store, priority=1)
    escalations = Escalations(store.engine)
    assert escalations.once(case.id, "p1_realert", "p1_realert", {"waited_seconds": 120})
    assert not escalations.once(case.id, "p1_realert", "p1_realert", {"waited_seconds": 121})
    with store.engine.connect() as conn:
        events = [r.event for r in conn.execute(outbox.select().where(outbox.c.case_id == case.id))]
    assert events == ["case_opened", "p1_realert"]
    assert escalations.flags(case.id) == {"p1_realert"}
    store.engine.dispose()


def test_duty_idles_out_and_sessions_expire(sqlite_url):
    engine = make_engine(sqlite_url)
    roster = DutyRoster(engine, idle_minutes=0.005)  # 0.3 s
    roster.on_duty("alice", via="desk")
    roster.on_duty("@bob", via="telegram", telegram_user_id=42)
    assert [(a.agent, a.telegram_user_id) for a in roster.current()] == [("@bob", 42), ("alice", None)]
    roster.off_duty("@bob")
    assert [a.agent for a in roster.current()] == ["alice"]
    time.sleep(0.35)
    assert roster.current() == []
    roster.touch("alice")
    assert [a.agent for a in roster.current()] == ["alice"]
    with engine.connect() as conn:
        assert on_duty_count(conn) == 1
    sessions = DeskSessions(engine, idle_minutes=0.005, max_hours=12)
    token = sessions.start("alice")
    assert sessions.agent_for(token) == "alice"
    assert sessions.agent_for(token + "x") is None
    time.sleep(0.35)
    assert sessions.agent_for(token) is None
    engine.dispose()


def test_no_agent_on_duty_before_the_desk_ever_ran(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert on_duty_count(conn) == 0
    engine.dispose()


def test_password_hashes():
    encoded = hash_password("correct horse", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert check_password("correct horse", encoded)
    assert not check_password("correct horse!", encoded)
    assert not check_password("correct horse", "md5$x")
    assert hash_password("same", iterations=1000) != hash_password("same", iterations=1000)  # salted


def test_hash_password_command_prints_a_usable_hash():
    result = subprocess.run(
        [sys.executable, "-m", "bot.desk.hash_password"],
        input="s3cret\n",
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=True,
    )
    assert check_password("s3cret", result.stdout.strip())


def test_desk_settings_from_env():
    settings = DeskSettings.from_env(
        {
            "DESK_AGENTS": "alice:pbkdf2_sha256$1$s$h, bob:pbkdf2_sha256$1$t$i",
            "DESK_SLA_MINUTES": "P1:3",
            "TELEGRAM_AGENT_BOT_TOKEN": "1:x",
            "TELEGRAM_AGENT_CHAT_ID": "-100",
            "TELEGRAM_AGENT_IDS": "1, 2",
        }
    )
    assert settings.agents == {"alice": "pbkdf2_sha256$1$s$h", "bob": "pbkdf2_sha256$1$t$i"}
    assert settings.sla_minutes[1] == 3 and settings.sla_minutes[4] == 1440
    assert settings.telegram_group_enabled and settings.agent_telegram_ids == (1, 2)
    assert settings.x is None
    with pytest.raises(ValueError):
        DeskSettings.from_env({"ALERT_WEBHOOK_URL": "http://127.0.0.1:1/hook"})
    assert timedelta(minutes=DeskSettings.from_env({}).idle_minutes) == timedelta(minutes=30)
    assert DeskSettings.from_env({}).session_max_hours == 12
    assert DeskSettings.from_env({"DESK_SESSION_MAX_HOURS": "8"}).session_max_hours == 8
