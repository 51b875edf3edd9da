"""The agents table: one identity per agent for the desk and the agents' Telegram group.

Seeded by the desk from ``DESK_AGENTS`` on its first start, not here: the hashes live in
the environment, which a migration run need not have.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.migrations import existing

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "agents",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("telegram_user_id", name="uq_agents_telegram_user_id"),
    )
