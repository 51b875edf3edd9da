"""The audit trail: who did what to which case, through which door, allowed or refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine

from bot.cases.schema import UtcDateTime
from bot.cases.store import utcnow
from bot.migrations.runner import ensure_schema

metadata = MetaData()
ACTOR_LENGTH, ACTION_LENGTH = 128, 32  # column sizes: text from outside is cut to them before it is stored

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ACTOR_LENGTH), nullable=False),
    Column("via", String(16), nullable=False),
    Column("action", String(ACTION_LENGTH), nullable=False),
    Column("case_id", String(16), index=True),
    Column("allowed", Boolean, nullable=False),
    Column("detail", JSON, nullable=False),
)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    via: str
    action: str
    case_id: str | None
    allowed: bool
    detail: dict[str, Any]


class AuditLog:
    """Append-only record of every agent action and every refused attempt."""

    def __init__(self, engine: Engine) -> None:
        ensure_schema(engine)
        self._engine = engine

    def record(
        self,
        *,
        actor: str,
        via: str,
        action: str,
        case_id: str | None = None,
        allowed: bool = True,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=utcnow(),
                    actor=actor,
                    via=via,
                    action=action,
                    case_id=case_id,
                    allowed=allowed,
                    detail=detail or {},
                )
            )

    def entries(self, case_id: str | None = None, limit: int = 500) -> list[AuditEntry]:
        """Newest last; all cases when ``case_id`` is None."""
        query = select(audit_log).order_by(audit_log.c.id).limit(limit)
        if case_id is not None:
            query = query.where(audit_log.c.case_id == case_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                at=r.at,
                actor=r.actor,
                via=r.via,
                action=r.action,
                case_id=r.case_id,
                allowed=r.allowed,
                detail=dict(r.detail or {}),
            )
            for r in rows
        ]
