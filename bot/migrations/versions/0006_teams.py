"""Teams: ``cases.team`` (set by a transfer; routes decide otherwise) and ``agent_teams``.

Added only where missing, like the revisions before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "agent_teams",
        sa.Column("agent", sa.String(64), primary_key=True),
        sa.Column("team", sa.String(32), primary_key=True),
    )
    if not context.is_offline_mode() and "team" in existing.columns("cases"):
        return
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("team", sa.String(32)))
