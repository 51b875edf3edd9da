"""``customer_links``: channel identities an agent linked as one customer (history across channels).

Added only where missing, like the revisions before.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.migrations import existing

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "customer_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("first", sa.String(128), nullable=False),
        sa.Column("second", sa.String(128), nullable=False),
        sa.Column("linked_by", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("first", "second", name="uq_customer_links_pair"),
        indexes=[("ix_customer_links_second", ["second"])],
    )
