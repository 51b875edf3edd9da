"""Help-center articles customers said solved their problem: ``helpful_articles`` (article, language, when).

Made only where missing: a database a later commit's ``create_all`` made has it already.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.migrations import existing

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "helpful_articles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(80), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        indexes=[("ix_helpful_articles_article", ["article_id", "language"])],
    )
