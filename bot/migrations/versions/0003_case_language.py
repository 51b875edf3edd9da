"""The customer's language on each case: ``cases.language`` (en, ko, zh), English for existing cases.

Added only where missing: a database a later commit's ``create_all`` made has it already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not context.is_offline_mode() and "language" in existing.columns("cases"):
        return
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="en"))
