"""The case backup: one JSON line per case with its (redacted) transcript, read back whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.cases.database import make_engine
from bot.cases.store import CaseStore, TranscriptLine
from bot.lifecycle.export import BATCH, ExportTargetError, export_cases
from bot.settings import PROJECT_ROOT


def test_every_case_is_written_with_its_transcript_and_attachments(database_url, tmp_path):
    engine = make_engine(database_url)
    store = CaseStore(engine)
    opened = [
        store.open_case(
            intent="deposit_missing", priority=2, channel="rest", sender_id=f"rest:c{i}", summary=f"case {i}",
            details={"asset": "BTC"}, transcript=[TranscriptLine("customer", f"where is deposit {i}")],
        )
        for i in range(BATCH + 3)  # more than one batch
    ]  # fmt: skip
    first = opened[0].id
    store.record_message(first, TranscriptLine("agent", "checking now", author="alice"))
    store.add_attachment(first, kind="photo", name="receipt.jpg", mime_type="image/jpeg", size=10)
    store.claim(first, "alice")
    store.resolve(first, "alice")
    path = tmp_path / "cases.jsonl"

    assert export_cases(engine, path) == len(opened)

    records = {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    assert set(records) == {c.id for c in opened}
    case = records[first]
    assert (case["status"], case["assignee"], case["details"]) == ("resolved", "alice", {"asset": "BTC"})
    assert [(m["role"], m["text"]) for m in case["transcript"]] == [
        ("customer", "where is deposit 0"),
        ("agent", "checking now"),
    ]
    assert [a["name"] for a in case["attachments"]] == ["receipt.jpg"]
    assert case["resolved_at"].startswith(str(store.get(first).resolved_at.date()))
    assert path.stat().st_mode & 0o777 == 0o600
    engine.dispose()


def test_the_command_writes_the_file(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    CaseStore(engine).open_case(intent="other", priority=3, channel="rest", sender_id="rest:a", summary="s", details={})
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": sqlite_url}
    result = subprocess.run(
        [sys.executable, "-m", "bot.admin", "export", "--output", str(tmp_path / "backup.jsonl")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "exported 1 cases" in result.stdout
    assert len((tmp_path / "backup.jsonl").read_text().splitlines()) == 1
    engine.dispose()


def test_a_directory_or_a_missing_folder_is_refused_and_nothing_is_left_behind(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    out = tmp_path / "backups"
    out.mkdir()
    try:
        for target in (out, out / "missing" / "cases.jsonl"):
            with pytest.raises(ExportTargetError):
                export_cases(engine, target)
        assert list(out.iterdir()) == [] and not (tmp_path / ".backups.partial").exists(), "no draft anywhere"
    finally:
        engine.dispose()


def test_a_failed_export_removes_its_draft(sqlite_url, tmp_path, monkeypatch):
    engine = make_engine(sqlite_url)
    CaseStore(engine).open_case(
        intent="deposit_missing", priority=2, channel="rest", sender_id="rest:x", summary="s", details={}
    )

    def broken(conn):
        yield {"id": "CX-1"}
        raise ConnectionError("the database went away mid-export")

    monkeypatch.setattr("bot.lifecycle.export._records", broken)
    out = tmp_path / "backups"
    out.mkdir()
    try:
        with pytest.raises(ConnectionError):
            export_cases(engine, out / "cases.jsonl")
        assert list(out.iterdir()) == []
    finally:
        engine.dispose()
