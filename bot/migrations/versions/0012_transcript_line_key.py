"""``case_messages.line_key``: the customer message or reply a transcript line is, unique per case.

A turn that runs again (after a crash, a failed action call, a retried X event) records its
customer line and its replies again; keyed, the case keeps one copy of each and alerts the
agent who owns it once. Lines that exist keep NULL, which the unique index allows any
number of times.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.is_offline_mode() or "line_key" not in existing.columns("case_messages"):
        with op.batch_alter_table("case_messages") as batch:
            batch.add_column(sa.Column("line_key", sa.String(160)))
        op.create_index("ux_case_messages_line_key", "case_messages", ["case_id", "line_key"], unique=True)
