"""The daily purge: finished data older than its retention goes, in small batches.

Only finished data ages out. Open and claimed cases, pending inbox rows, replies not yet
sent and outbox rows not yet delivered everywhere stay, however old. Each batch is its own
short transaction, so the purge never holds a lock the channels wait on for long. Logged
as counts per table, never with what the rows held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, delete, exists, func, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.cases.audit import audit_log
from bot.cases.deliveries import DELIVERED, alert_messages, deliveries
from bot.cases.escalations import case_flags
from bot.cases.group_updates import HANDLING, agent_group_updates
from bot.cases.schema import attachments, case_messages, cases, outbox
from bot.cases.store import ACTIVE_STATUSES, utcnow
from bot.lifecycle.files import attachment_files, remove_files
from bot.lifecycle.settings import KEEP, LifecycleSettings
from bot.migrations.runner import ensure_schema
from connectors.rest.mailbox import rest_mailbox
from connectors.telegram.storage import (
    DONE,
    FAILED,
    SENT,
    telegram_button_presses,
    telegram_replies,
    telegram_updates,
)
from connectors.twitter.inbox import x_inbox
from connectors.twitter.state import x_processed

logger = logging.getLogger(__name__)

FINISHED_UPDATES = (DONE, FAILED)
FINISHED_REPLIES = (SENT, FAILED)
CASE_CHILDREN = (deliveries, alert_messages, case_flags, outbox, attachments, case_messages)  # all keyed by case_id


class Purge:
    """Delete what has outlived its retention; ``run`` returns the rows deleted per table."""

    def __init__(self, engine: Engine, settings: LifecycleSettings) -> None:
        ensure_schema(engine)
        self._engine = engine
        self._settings = settings

    def run(self, now: datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        s = self._settings
        counts: dict[str, int] = {}
        if s.attachment_days != KEEP:
            counts["attachments"] = self._attachments(now - timedelta(days=s.attachment_days))
        if s.transcript_days != KEEP:
            counts["cases"] = self._closed_cases(now - timedelta(days=s.transcript_days))
        if s.channel_rows_days != KEEP:
            cutoff = now - timedelta(days=s.channel_rows_days)
            counts.update(self._channel_rows(cutoff))
        if s.audit_days != KEEP:
            cutoff = now - timedelta(days=s.audit_days)
            counts[audit_log.name] = self._batches(audit_log, audit_log.c.at < cutoff)
        logger.info("purge deleted %s", ", ".join(f"{table}={n}" for table, n in counts.items()) or "nothing")
        return counts

    def _channel_rows(self, cutoff: datetime) -> dict[str, int]:
        """Finished rows of the channels' inboxes and outboxes, and of the desk's outbox."""
        undelivered = exists().where(and_(deliveries.c.outbox_id == outbox.c.id, deliveries.c.status != DELIVERED))
        return {
            telegram_updates.name: self._batches(
                telegram_updates,
                and_(
                    telegram_updates.c.status.in_(FINISHED_UPDATES),
                    func.coalesce(telegram_updates.c.processed_at, telegram_updates.c.created_at) < cutoff,
                ),
            ),
            telegram_replies.name: self._batches(
                telegram_replies,
                and_(telegram_replies.c.status.in_(FINISHED_REPLIES), telegram_replies.c.created_at < cutoff),
            ),
            telegram_button_presses.name: self._batches(
                telegram_button_presses, telegram_button_presses.c.pressed_at < cutoff
            ),
            x_inbox.name: self._batches(
                x_inbox, and_(x_inbox.c.status.in_(FINISHED_UPDATES), x_inbox.c.finished_at < cutoff)
            ),
            x_processed.name: self._batches(x_processed, x_processed.c.processed_at < cutoff.timestamp()),
            rest_mailbox.name: self._batches(rest_mailbox, rest_mailbox.c.delivered_at < cutoff),
            agent_group_updates.name: self._batches(
                agent_group_updates,
                and_(agent_group_updates.c.status != HANDLING, agent_group_updates.c.finished_at < cutoff),
            ),
            outbox.name: self._batches(
                outbox,
                and_(outbox.c.created_at < cutoff, ~undelivered),
                before=lambda conn, ids: conn.execute(delete(deliveries).where(deliveries.c.outbox_id.in_(ids))),
            ),
        }

    def _attachments(self, cutoff: datetime) -> int:
        """Rows and files of the attachments of cases closed before ``cutoff``."""
        closed = select(cases.c.id).where(cases.c.status.notin_(ACTIVE_STATUSES), cases.c.resolved_at < cutoff)
        paths: list[str] = []

        def collect(conn: Connection, ids: list[object]) -> None:
            paths.extend(attachment_files(conn, attachments.c.id.in_(ids)))

        deleted = self._batches(attachments, attachments.c.case_id.in_(closed), before=collect)
        remove_files(paths)
        return deleted

    def _closed_cases(self, cutoff: datetime) -> int:
        """Cases closed before ``cutoff``, with their transcript, attachments, outbox rows and alerts."""
        paths: list[str] = []

        def children(conn: Connection, ids: list[object]) -> None:
            paths.extend(attachment_files(conn, attachments.c.case_id.in_(ids)))
            for table in CASE_CHILDREN:
                conn.execute(delete(table).where(table.c.case_id.in_(ids)))

        deleted = self._batches(
            cases, and_(cases.c.status.notin_(ACTIVE_STATUSES), cases.c.resolved_at < cutoff), before=children
        )
        remove_files(paths)
        return deleted

    def _batches(
        self,
        table: Table,
        condition: ColumnElement[bool],
        before: Callable[[Connection, list[object]], object] | None = None,
    ) -> int:
        """Delete the rows of ``table`` meeting ``condition``, ``purge_batch_rows`` per transaction."""
        key = list(table.primary_key.columns)
        total = 0
        while True:
            with self._engine.begin() as conn:
                rows = conn.execute(select(*key).where(condition).limit(self._settings.purge_batch_rows)).all()
                if not rows:
                    return total
                if len(key) == 1:
                    ids: list[object] = [r[0] for r in rows]
                    if before is not None:
                        before(conn, ids)
                    total += conn.execute(delete(table).where(key[0].in_(ids))).rowcount
                else:
                    total += conn.execute(delete(table).where(tuple_(*key).in_(_tuples(rows)))).rowcount
            if len(rows) < self._settings.purge_batch_rows:
                return total


def _tuples(rows: Iterable[object]) -> list[tuple[object, ...]]:
    return [tuple(r) for r in rows]  # type: ignore[arg-type]
