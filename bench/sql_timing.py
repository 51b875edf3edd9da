"""Time the SQL a process runs, through SQLAlchemy's engine and pool events (for `bench/cpu_profile.py`).

A statement counts from `before_cursor_execute` to `after_cursor_execute`; a commit from the
`commit` event to the connection's return to the pool (that is where SQLite writes and syncs).
CPU is the calling thread's (`time.thread_time`), wall is `time.perf_counter`.

    python -m bench.sql_timing OUT rasa run actions ...   # a Rasa program as bot.runtime.launch starts it,
                                                          # its totals written to OUT as JSON twice a second
"""
from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_STARTED = "bench_sql_started"
_COMMITTING = "bench_sql_committing"


@dataclass
class SqlTotals:
    statements: int = 0
    commits: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, started: tuple[float, float]) -> None:
        self.wall += time.perf_counter() - started[0]
        self.cpu += time.thread_time() - started[1]


TOTALS = SqlTotals()


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _before(conn: Any, *_: Any) -> None:
    conn.info[_STARTED] = _now()


def _after(conn: Any, *_: Any) -> None:
    started = conn.info.pop(_STARTED, None)
    if started is not None:
        TOTALS.statements += 1
        TOTALS.add(started)


def _commit(conn: Any) -> None:
    conn.info[_COMMITTING] = _now()


def _checkin(_dbapi_connection: Any, record: Any) -> None:
    started = record.info.pop(_COMMITTING, None) if record is not None else None
    if started is not None:
        TOTALS.commits += 1
        TOTALS.add(started)


def install() -> SqlTotals:
    """Count every engine's SQL in this process from now on; returns the running totals."""
    if not event.contains(Engine, "before_cursor_execute", _before):
        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "commit", _commit)
        event.listen(Pool, "checkin", _checkin)
    return TOTALS


def read(path: Path) -> SqlTotals:
    """The totals another process wrote (zeros before its first write)."""
    try:
        return SqlTotals(**json.loads(path.read_text()))
    except (OSError, ValueError):
        return SqlTotals()


def _write_forever(path: Path) -> None:
    while True:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(TOTALS)))
        temporary.replace(path)
        time.sleep(0.5)


def main() -> None:
    out = Path(sys.argv[1])
    install()
    threading.Thread(target=_write_forever, args=(out,), daemon=True, name="sql-timing").start()
    from bot.runtime import launch

    sys.argv = [sys.argv[0], *sys.argv[2:]]
    launch.main()


if __name__ == "__main__":
    main()
