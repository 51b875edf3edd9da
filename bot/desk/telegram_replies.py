"""Agents' messages to Telegram customers, as rows of the Telegram channel's reply outbox.

The desk does not send to Telegram customers itself: the Rasa server running the Telegram
channel sends these rows in order per chat and retries what fails for a while. A row is
written in the transaction that adds its transcript line (its ``reference`` is the line's
id), so a desk that dies midway leaves both or neither; ``Outbox.add`` opens a transaction
of its own, which is why the row is written here. A file is stored, synced to disk, under
the attachment directory the channel reads, and its row names it relative to that.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Row

from bot.cases.store import Case, CaseStore, TranscriptLine
from bot.migrations.runner import ensure_schema
from connectors.telegram import storage
from connectors.telegram.sender import split_text

QUEUED, SENT, FAILED = "queued", "sent", "failed"
ORIGIN = "agent"  # rows the desk adds, as opposed to the bot's own replies


@dataclass(frozen=True)
class Delivery:
    """Where a message to a customer stands; ``error`` says why it failed."""

    state: str
    error: str | None = None


DELIVERED = Delivery(SENT)


def telegram_chat_id(sender_id: str) -> int:
    """``tg:<chat_id>:<user_id>`` -> chat id."""
    prefix, chat_id, _user_id = sender_id.split(":", 2)
    if prefix != "tg":
        raise ValueError(f"not a Telegram conversation key: {sender_id!r}")
    return int(chat_id)


class TelegramReplies:
    """Queue an agent's text or file for a Telegram customer, and read back how each one went."""

    def __init__(self, store: CaseStore, attachment_dir: Path) -> None:
        ensure_schema(store.engine)
        self._store = store
        self._attachment_dir = attachment_dir

    def queue_text(self, case: Case, line: TranscriptLine, buttons: Sequence[Mapping[str, str]] = ()) -> None:
        """Record the line with its rows (cut to Telegram's message size); ``buttons`` go under the last part."""
        bodies: list[dict[str, Any]] = [{"kind": "text", "text": part} for part in split_text(line.text)]
        if buttons:
            bodies[-1]["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in buttons]
        self._queue(case, line, bodies)

    def queue_file(self, case: Case, name: str, data: bytes, *, mime_type: str, author: str) -> None:
        """Store the file, attach it to the case, then record its line with its row."""
        relative = self._store_file(case.id, name, data)
        self._store.add_attachment(
            case.id,
            kind="agent_file",
            name=name,
            mime_type=mime_type,
            size=len(data),
            stored_path=str(self._attachment_dir / relative),
        )
        line = TranscriptLine(role="agent", text=f"[file] {name}", author=author)
        self._queue(case, line, [{"kind": "document", "path": relative, "filename": name}])

    def deliveries(self, case: Case) -> dict[int, Delivery]:
        """By transcript line id: how each line the desk queued for this customer's chat went."""
        replies = storage.telegram_replies.c
        query = (
            select(replies.reference, replies.status, replies.error)
            .where(
                replies.chat_id == telegram_chat_id(case.sender_id),
                replies.origin == ORIGIN,
                replies.reference.is_not(None),
            )
            .order_by(replies.id)
        )
        with self._store.engine.connect() as conn:
            rows = conn.execute(query).all()
        parts: dict[int, list[Row]] = {}
        for row in rows:
            if row.reference.isdigit():
                parts.setdefault(int(row.reference), []).append(row)
        return {line_id: _delivery(line_parts) for line_id, line_parts in parts.items()}

    def _queue(self, case: Case, line: TranscriptLine, bodies: list[dict[str, Any]]) -> None:
        chat_id = telegram_chat_id(case.sender_id)

        def add_rows(conn: Connection, line_id: int) -> None:
            now = datetime.now(timezone.utc)
            conn.execute(
                insert(storage.telegram_replies),
                [
                    {
                        "chat_id": chat_id,
                        "origin": ORIGIN,
                        "reference": str(line_id),
                        "body": body,
                        "status": storage.PENDING,
                        "attempts": 0,
                        "possible_duplicate": False,
                        "created_at": now,
                    }
                    for body in bodies
                ],
            )

        self._store.record_message(case.id, line, with_line=add_rows)

    def _store_file(self, case_id: str, name: str, data: bytes) -> str:
        """Write the bytes and sync them before any row points at them; returns the path under the directory."""
        relative = Path(case_id) / f"desk-{uuid.uuid4().hex[:12]}-{Path(name).name or 'file'}"
        path = self._attachment_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the file's name, too, survives a crash
        finally:
            os.close(directory)
        return str(relative)


def _delivery(parts: Sequence[Row]) -> Delivery:
    """A line sent as several messages: failed if one failed, sent once all were."""
    failed = next((part for part in parts if part.status == storage.FAILED), None)
    if failed is not None:
        return Delivery(FAILED, failed.error)
    if all(part.status == storage.SENT for part in parts):
        return DELIVERED
    return Delivery(QUEUED)
