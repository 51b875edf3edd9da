"""``cases.opened_by_message``: the customer message whose turn opened the case, unique per conversation.

A turn that runs again (after a crash, a timeout or a failed action call) runs
``action_open_case`` again; with the message's id the store finds the case that turn
opened instead of opening a second one and alerting the agents twice. Cases that exist
keep NULL, which the unique index allows any number of times.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode() or "opened_by_message" not in existing.columns("cases"):
        with op.batch_alter_table("cases") as batch:
            batch.add_column(sa.Column("opened_by_message", sa.String(128)))
        op.create_index(
            "ux_cases_opening_message", "cases", ["channel", "sender_id", "opened_by_message"], unique=True
        )
