"""Schema revisions on SQLite and PostgreSQL: from nothing, from 9b84011's database, from a later create_all.

Each upgrade must leave exactly the models' schema (autogenerate finds no difference) and
keep the rows; a second upgrade does nothing; processes starting together upgrade once.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, event, func, inspect, select, table, text
from sqlalchemy.engine import Engine

from bot import migrate
from bot.cases.database import make_engine
from bot.migrations import runner
from bot.migrations.tables import METADATA
from connectors.telegram.storage import telegram_replies, telegram_updates

ROOT = Path(__file__).resolve().parent.parent
KEPT = {  # rows of 9b84011's fixture that every upgrade keeps, table by table
    "cases": 2,
    "case_messages": 3,
    "attachments": 1,
    "outbox": 2,
    "deliveries": 2,
    "alert_messages": 1,
    "case_flags": 1,
    "audit_log": 1,
    "agent_duty": 1,
    "desk_sessions": 1,
    "leader_leases": 1,
    "x_cursors": 1,
    "x_processed": 1,
    "x_choices": 1,
    "rest_mailbox": 1,
    "telegram_callbacks": 1,
    "events": 1,  # Rasa's tracker: untouched
}


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": runner.include_name, "compare_type": True})
        return list(compare_metadata(context, METADATA))


def load_9b84011(engine: Engine) -> None:
    """The database 9b84011 left: its create_all DDL, Rasa's events table and a few rows."""
    script = (ROOT / "tests" / "data" / f"schema_9b84011_{engine.dialect.name}.sql").read_text()
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.executescript(script)
        else:
            raw.cursor().execute(script)
        raw.commit()
    finally:
        raw.close()


def count(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())


def updates(engine: Engine) -> dict[int, tuple[str, int, str | None]]:
    t = telegram_updates.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.update_id, t.status, t.attempts, t.error).order_by(t.update_id)).all()
    return {r.update_id: (r.status, r.attempts, r.error) for r in rows}


def replies(engine: Engine) -> list[tuple[int | None, int | None, str, bool, str | None]]:
    t = telegram_replies.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.update_id, t.seq, t.status, t.possible_duplicate, t.error, t.body).order_by(t.id)
        ).all()
    assert [r.body["text"] for r in rows][:2] == ["Your case is CX-7K3M9Q.", "Change your password now."]
    return [(r.update_id, r.seq, r.status, r.possible_duplicate, r.error) for r in rows]


def test_an_empty_database_upgrades_to_the_models(engine):
    runner.upgrade(engine)
    assert differences(engine) == []
    with engine.connect() as conn:
        assert runner.current_revision(conn) == runner.head_revision()


def test_9b84011s_database_keeps_its_rows_and_moves_telegrams_to_the_new_tables(engine):
    load_9b84011(engine)
    runner.upgrade(engine)

    assert differences(engine) == []
    assert {name: count(engine, name) for name in KEPT} == KEPT
    assert not {"telegram_inbox", "telegram_outbox"} & set(inspect(engine).get_table_names())
    assert updates(engine) == {
        500: ("done", 1, None),
        501: ("pending", 1, None),  # was being handled: the next claim is a replay
        502: ("pending", 0, None),
        503: ("failed", 1, None),
    }
    replied = replies(engine)
    assert replied[:4] == [
        (500, 0, "sent", False, None),
        (500, 1, "sent", False, None),
        (501, 0, "pending", True, None),  # was mid-send: may have reached Telegram
        (501, 1, "pending", False, None),
    ]
    assert replied[4][:4] == (503, 0, "failed", False) and "not sent again: TimedOut" in replied[4][4]
    assert replied[5] == (None, None, "failed", False, "Forbidden: bot was blocked by the user")


def test_a_database_a_later_create_all_grew_is_adopted_and_old_rows_set_aside(engine):
    load_9b84011(engine)
    for metadata in METADATA:  # what the stores of a later commit made, before Alembic
        metadata.create_all(engine)
    with engine.begin() as conn:  # telegram_replies as 242099a made it
        conn.execute(text("ALTER TABLE telegram_replies DROP COLUMN reply_key"))
    runner.upgrade(engine)

    assert differences(engine) == []
    assert {name: count(engine, name) for name in KEPT} == KEPT
    left = "left in telegram_inbox by an upgrade before Alembic; not handled"
    assert updates(engine) == {
        500: ("done", 1, None),
        501: ("failed", 1, left),  # days late, perhaps: not answered now
        502: ("failed", 0, left),
        503: ("failed", 1, None),
    }
    unsent = "left in telegram_outbox by an upgrade before Alembic; not handled"
    assert [r[2:] for r in replies(engine)[:4]] == [
        ("sent", False, None),
        ("sent", False, None),
        ("failed", False, unsent),
        ("failed", False, unsent),
    ]


def test_upgrading_again_changes_nothing(engine, database_url):
    runner.upgrade(engine)
    statements: list[str] = []
    again = make_engine(database_url)
    event.listen(again, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    try:
        runner.ensure_schema(again)
        assert statements and all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements)
        statements.clear()
        runner.ensure_schema(again)
        assert statements == []  # once per engine per process
    finally:
        again.dispose()


def test_processes_that_start_together_upgrade_one_after_another(engine, database_url):
    """Three processes find no schema and queue on the schema lock (held here at first); one upgrades."""
    child = "import sys; from bot.migrations.runner import upgrade; from bot.cases.database import make_engine; "
    child += "print('ready', flush=True); upgrade(make_engine(sys.argv[1]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    with engine.connect() as holder:
        runner._take_schema_lock(holder)
        processes = [
            subprocess.Popen([sys.executable, "-c", child, database_url], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        assert all(p.stdout is not None and p.stdout.readline() == "ready\n" for p in processes)
        wait_until_blocked(holder, len(processes))
        holder.rollback()
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
    assert differences(engine) == []
    assert count(engine, "alembic_version") == 1


def wait_until_blocked(holder, waiting: int) -> None:
    """Until ``waiting`` others wait for the schema lock (PostgreSQL shows it; SQLite gets a moment)."""
    if holder.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    deadline = time.monotonic() + 30
    with holder.engine.connect() as conn:
        while conn.execute(query).scalar_one() < waiting:
            assert time.monotonic() < deadline, "the other processes never reached the lock"
            time.sleep(0.05)


def test_threads_of_one_process_upgrade_one_after_another(database_url):
    engines = [make_engine(database_url) for _ in range(4)]
    start, errors = threading.Barrier(len(engines)), []

    def ensure(engine: Engine) -> None:
        start.wait()
        try:
            runner.ensure_schema(engine)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert differences(engines[0]) == []
    finally:
        for engine in engines:
            engine.dispose()


def test_every_metadata_of_ours_is_in_the_target():
    ours = {id(metadata) for metadata in METADATA}
    found = 0
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "connectors").rglob("*.py")]):
        if "MetaData()" not in path.read_text():
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for value in vars(module).values():
            if isinstance(value, MetaData):
                assert id(value) in ours, f"{module.__name__} has tables that bot/migrations/tables.py leaves out"
                found += 1
    assert found == len(METADATA)


def test_rasas_tracker_tables_are_left_to_rasa():
    from rasa.core.tracker_store import SQLTrackerStore

    assert set(SQLTrackerStore.Base.metadata.tables) == runner.RASA_TABLES
    assert not runner.RASA_TABLES & {name for metadata in METADATA for name in metadata.tables}


def test_the_upgrade_prints_as_sql_without_a_database(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    migrate.main(["--sql"])
    sql = capsys.readouterr().out
    assert "CREATE TABLE telegram_inbox" in sql and "INSERT INTO telegram_updates" in sql
    assert sql.rstrip().endswith("COMMIT;")



def test_an_unreachable_database_is_one_clear_line_without_the_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:hunter2@127.0.0.1:1/none")
    with pytest.raises(SystemExit) as stopped:
        migrate.main([])
    message = str(stopped.value.code)
    assert message.startswith("bot.migrate: the database postgresql://nobody:***@127.0.0.1:1/none did not answer")
    assert "hunter2" not in message and "\n" not in message
