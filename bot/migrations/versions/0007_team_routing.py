"""``team_routing``: the teams and routes an admin saved in the desk (none: the teams file).

Added only where missing, like the revisions before.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.migrations import existing

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "team_routing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
