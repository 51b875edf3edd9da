"""The engine's bounds on PostgreSQL: a hung, refusing or saturated database costs a call an error, not a hang.

PostgreSQL is reached through a TCP proxy the test switches (the machine's server itself
is never touched); what was written before a fault is read back directly afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy import event, func, select, text

from bot.cases.database import DATABASE_UNAVAILABLE, REPLY_MARGIN_SECONDS, DatabaseTimeouts, make_engine
from bot.cases.schema import case_messages, cases
from bot.cases.store import CaseStore, TranscriptLine
from tests.auxil.tcp_proxy import TcpProxy

TIMEOUTS = DatabaseTimeouts(connect=1.0, statement=1.0, pool=0.5)
# A pooled connection's pre-ping waits for the reply, then one new connection is tried.
WORST_CASE = TIMEOUTS.statement + REPLY_MARGIN_SECONDS + TIMEOUTS.connect
SLACK = 1.5


@pytest.fixture
def proxied(pg_url, proxy_to) -> Iterator[tuple[CaseStore, TcpProxy, CaseStore]]:
    """The store through the proxy, the proxy, and a store on a direct connection to check with."""
    proxy = proxy_to("127.0.0.1", 5432)
    with ExitStack() as engines:
        through = make_engine(proxy.route(pg_url), timeouts=TIMEOUTS)
        engines.callback(through.dispose)
        direct = make_engine(pg_url)
        engines.callback(direct.dispose)
        yield CaseStore(through), proxy, CaseStore(direct)


def _open(store: CaseStore, sender: str) -> str:
    return store.open_case(
        intent="withdrawal_stuck",
        priority=2,
        channel="rest",
        sender_id=sender,
        summary="withdrawal pending",
        details={"coin": "BTC"},
        transcript=[TranscriptLine(role="customer", text=f"{sender}: my btc withdrawal is stuck")],
    ).id


def _rows(store: CaseStore, sender: str) -> tuple[int, int]:
    """Cases and transcript lines of ``sender``, read on the direct connection."""
    with store.engine.connect() as conn:
        n_cases = conn.execute(select(func.count()).select_from(cases).where(cases.c.sender_id == sender)).scalar()
        n_lines = conn.execute(
            select(func.count())
            .select_from(case_messages.join(cases, cases.c.id == case_messages.c.case_id))
            .where(cases.c.sender_id == sender)
        ).scalar()
    return int(n_cases), int(n_lines)


def _failing_call_seconds(call: Callable[[], object]) -> float:
    started = time.monotonic()
    with pytest.raises(DATABASE_UNAVAILABLE):
        call()
    return time.monotonic() - started


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["blackhole", "refuse"])
def test_a_write_during_a_fault_fails_in_bounded_time_and_lands_once_when_retried(proxied, fault):
    store, proxy, direct = proxied
    before = _open(store, "before")

    getattr(proxy, fault)()
    for _ in range(2):  # the pooled connection, then a fresh one, both bounded
        assert _failing_call_seconds(lambda: _open(store, "during")) < WORST_CASE + SLACK
    with pytest.raises(DATABASE_UNAVAILABLE):
        store.get(before)
    proxy.forward()

    retried = _open(store, "during")
    assert store.get(retried).sender_id == "during"
    assert _rows(direct, "during") == (1, 1), "the failed attempts left nothing; the retry landed once"
    assert _rows(direct, "before") == (1, 1) and direct.get(before).status == "open"


@pytest.mark.postgres
def test_the_server_cancels_a_statement_past_the_timeout(pg_url):
    engine = make_engine(pg_url, timeouts=TIMEOUTS)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "1s"
        with engine.connect() as conn:
            started = time.monotonic()
            with pytest.raises(DATABASE_UNAVAILABLE, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
            assert time.monotonic() - started < TIMEOUTS.statement + SLACK
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_waiting_for_a_free_pooled_connection_is_bounded(pg_url):
    engine = make_engine(pg_url, timeouts=TIMEOUTS)
    with ExitStack() as held:
        held.callback(engine.dispose)
        capacity = engine.pool.size() + engine.pool._max_overflow
        for _ in range(capacity):
            held.enter_context(engine.connect())
        started = time.monotonic()
        with pytest.raises(DATABASE_UNAVAILABLE):
            engine.connect()
        assert TIMEOUTS.pool <= time.monotonic() - started < TIMEOUTS.pool + SLACK


def test_timeouts_come_from_the_environment_with_defaults():
    assert DatabaseTimeouts.from_env({}) == DatabaseTimeouts(connect=5.0, statement=15.0, pool=10.0)
    env = {
        "DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": "0.5",
        "DATABASE_POOL_TIMEOUT_SECONDS": "3",
    }
    assert DatabaseTimeouts.from_env(env) == DatabaseTimeouts(connect=2.0, statement=0.5, pool=3.0)
    with pytest.raises(ValueError, match="positive"):
        DatabaseTimeouts.from_env({"DATABASE_STATEMENT_TIMEOUT_SECONDS": "0"})


def test_a_sqlite_file_keeps_its_connections_and_commits_without_waiting_for_the_disk(sqlite_url: str) -> None:
    """Opening a SQLite file per transaction cost more CPU than our statements (SQLAlchemy 1.4's default)."""
    engine = make_engine(sqlite_url)
    opened: list[object] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    try:
        for _ in range(20):
            with engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: safe in WAL across a kill -9
        assert len(opened) == 1
    finally:
        engine.dispose()


def test_a_new_sqlite_file_and_its_logs_are_readable_by_the_owner_only(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'support.db'}")
    try:
        CaseStore(engine).open_case(intent="other", priority=3, channel="rest", sender_id="rest:a", summary="s",
                                    details={})  # fmt: skip
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    finally:
        engine.dispose()
    assert modes["support.db"] == 0o600 and modes.get("support.db-wal", 0o600) == 0o600
