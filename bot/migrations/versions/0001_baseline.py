"""Baseline: our tables as commit 9b84011 made them with ``create_all``.

Each table (with its indexes) is created only when missing, so a database made before
Alembic, whole or in part, is adopted as it is: its tables and rows stay, what a store had
not made yet is added. An empty database gets all of them. Upgrades only.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from bot.migrations import existing

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)  # the stores' UtcDateTime


def upgrade() -> None:
    present = existing.tables()
    create = functools.partial(existing.create_table, present)
    create(
        "cases",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("intent", sa.String(40), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("rating", sa.Integer),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("claimed_at", UTC),
        sa.Column("resolved_at", UTC),
        indexes=[
            ("ix_cases_conversation", ["channel", "sender_id", "status"]),
            ("ix_cases_queue", ["status", "priority", "created_at"]),
        ],
    )
    create(
        "case_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(16), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("author", sa.String(128)),
        sa.Column("text", sa.Text, nullable=False),
        indexes=[("ix_case_messages_case_id", ["case_id"])],
    )
    create(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(16), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("platform_file_id", sa.String(255)),
        sa.Column("stored_path", sa.String(500)),
        indexes=[("ix_attachments_case_id", ["case_id"])],
    )
    create(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(16), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        indexes=[("ix_outbox_case_id", ["case_id"])],
    )
    create(
        "case_flags",
        sa.Column("case_id", sa.String(16), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "flag"),
    )
    create(
        "leader_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    create(
        "agent_duty",
        sa.Column("agent", sa.String(64), primary_key=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger),
        sa.Column("on_since", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        sa.Column("active_until", UTC, nullable=False),
    )
    create(
        "desk_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen", UTC, nullable=False),
        indexes=[("ix_desk_sessions_agent", ["agent"])],
    )
    create(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", UTC),
        sa.UniqueConstraint("outbox_id", "destination", name="uq_delivery_row_destination"),
        indexes=[("ix_deliveries_due", ["destination", "status", "next_attempt_at"])],
    )
    create(
        "alert_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("case_id", sa.String(16), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_alert_message"),
        indexes=[("ix_alert_messages_case_id", ["case_id"])],
    )
    create(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(16)),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        indexes=[("ix_audit_log_case_id", ["case_id"])],
    )
    create(
        "x_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    create(
        "x_processed",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(160), nullable=False),
        sa.Column("processed_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("kind", "event_id"),
    )
    create(
        "x_choices",
        sa.Column("sender_id", sa.String(128), primary_key=True),
        sa.Column("choices", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    create(
        "rest_mailbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(64)),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC),
        indexes=[("ix_rest_mailbox_sender_id", ["sender_id"])],
    )
    create(
        "telegram_inbox",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("chat_key", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_until", sa.Float),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("processed_at", UTC),
        indexes=[("ix_telegram_inbox_chat_key", ["chat_key"]), ("ix_telegram_inbox_status", ["status"])],
    )
    create(
        "telegram_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("update_id", sa.BigInteger),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_until", sa.Float),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC),
        indexes=[
            ("ix_telegram_outbox_chat_id", ["chat_id"]),
            ("ix_telegram_outbox_status", ["status"]),
            ("ix_telegram_outbox_update_id", ["update_id"]),
        ],
    )
    create(
        "telegram_callbacks",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
