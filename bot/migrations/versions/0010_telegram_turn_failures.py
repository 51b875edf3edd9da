"""``telegram_updates.turn_failures``: tries that failed the turn itself, apart from transient errors.

The limit on a turn's tries (``TELEGRAM_MAX_TURN_ATTEMPTS``) counted every claim, so a
database blip or two and then one slow turn set a plain message aside. Rows that exist
start at 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode() or "turn_failures" not in existing.columns("telegram_updates"):
        with op.batch_alter_table("telegram_updates") as batch:
            batch.add_column(sa.Column("turn_failures", sa.Integer, nullable=False, server_default=sa.text("0")))

