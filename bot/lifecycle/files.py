"""Attachment files on disk, removed once the rows that name them are gone."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.schema import attachments
from bot.cases.store import CaseStore

logger = logging.getLogger(__name__)


def remove_files(paths: Iterable[str]) -> int:
    """Delete the stored files, and a case's folder once empty; a file that cannot be deleted is logged by its path."""
    removed = 0
    for name in paths:
        path = Path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            logger.exception("could not delete attachment file %s", path)
            continue
        removed += 1
        if CaseStore.is_case_id(path.parent.name):  # the Telegram channel keeps a case's files in a folder of its id
            with contextlib.suppress(OSError):  # not empty: the case's other files stay
                path.parent.rmdir()
    return removed


def attachment_files(conn: Connection, which: ColumnElement[bool]) -> list[str]:
    """The stored paths of the attachment rows ``which`` selects (rows of files never downloaded have none)."""
    return [p for p in conn.execute(select(attachments.c.stored_path).where(which)).scalars() if p]
