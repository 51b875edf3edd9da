"""A backup of the cases: one JSON line per case, with its transcript and its attachments' metadata.

The transcript is stored redacted (``bot.cases.redaction``), so the backup holds no
secrets the customer typed. Attachment files are not copied: their rows name them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from bot.cases.schema import attachments, case_messages, cases
from bot.migrations.runner import ensure_schema

BATCH = 200  # cases read per query


class ExportTargetError(ValueError):
    """The backup cannot be written where it was asked to go."""


def export_cases(engine: Engine, path: Path) -> int:
    """Write every case to ``path`` (replaced whole, readable by its owner only); the number written.

    The cases go to a draft beside ``path`` first, renamed over it when complete; a failure
    removes the draft, so no partial copy of customer data is left behind.
    """
    if path.is_dir():
        raise ExportTargetError(f"{path} is a directory: name the file to write, e.g. {path / 'cases.jsonl'}")
    if not path.parent.is_dir():
        raise ExportTargetError(f"the folder {path.parent} does not exist")
    ensure_schema(engine)
    draft = path.with_name(f".{path.name}.partial")
    written = 0
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file, engine.connect() as conn:
            for record in _records(conn):
                file.write(json.dumps(record, ensure_ascii=False, default=_json_value, sort_keys=True) + "\n")
                written += 1
        draft.replace(path)
    finally:
        draft.unlink(missing_ok=True)
    return written


def _records(conn: Connection) -> Iterator[dict[str, Any]]:
    """Cases in id order, a batch at a time, each with its transcript lines and attachments."""
    after = ""
    while True:
        rows = conn.execute(select(cases).where(cases.c.id > after).order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        lines = conn.execute(
            select(case_messages).where(case_messages.c.case_id.in_(ids)).order_by(case_messages.c.id)
        ).all()
        files = conn.execute(select(attachments).where(attachments.c.case_id.in_(ids)).order_by(attachments.c.id)).all()
        for row in rows:
            record = dict(row._mapping)
            record["transcript"] = [_without_case(m._mapping) for m in lines if m.case_id == row.id]
            record["attachments"] = [_without_case(a._mapping) for a in files if a.case_id == row.id]
            yield record
        after = ids[-1]


def _without_case(mapping: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(mapping).items() if k != "case_id"}


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
