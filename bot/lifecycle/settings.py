"""How long each family of data is kept, and the salt that hides an erased customer's id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.environment import reading

KEEP = 0  # a retention of 0 days keeps that family for ever


@dataclass(frozen=True)
class LifecycleSettings:
    """Retention in days per family (0: keep for ever), the purge's pace, and the erasure salt.

    Only finished data ages out: open or claimed cases, pending inbox rows and undelivered
    outbox rows are never purged, however old.
    """

    transcript_days: int = 365  # closed cases, whole: the case row, its transcript and its alerts
    attachment_days: int = 365  # files (and their rows) of closed cases, may go before the transcript
    channel_rows_days: int = 30  # finished inbox and outbox rows of every channel and of the desk
    audit_days: int = 730
    purge_interval_hours: float = 24.0
    purge_batch_rows: int = 500  # rows per statement and transaction: a purge never holds long locks
    erasure_salt: str | None = None  # None: a random salt kept in ``var/erasure-salt`` (bot.lifecycle.salt)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LifecycleSettings:
        """Read ``RETENTION_*``, ``PURGE_*`` and ``ERASURE_SALT``."""
        with reading(env) as read:
            return cls(
                transcript_days=read.integer("RETENTION_TRANSCRIPT_DAYS", cls.transcript_days, minimum=KEEP),
                attachment_days=read.integer("RETENTION_ATTACHMENT_DAYS", cls.attachment_days, minimum=KEEP),
                channel_rows_days=read.integer("RETENTION_CHANNEL_ROWS_DAYS", cls.channel_rows_days, minimum=KEEP),
                audit_days=read.integer("RETENTION_AUDIT_DAYS", cls.audit_days, minimum=KEEP),
                purge_interval_hours=read.number("PURGE_INTERVAL_HOURS", cls.purge_interval_hours, positive=True),
                purge_batch_rows=read.integer("PURGE_BATCH_ROWS", cls.purge_batch_rows, minimum=1, maximum=10_000),
                erasure_salt=read.optional("ERASURE_SALT"),
            )
