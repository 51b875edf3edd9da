"""The rating's optional comment: ``cases.rated_at`` and ``cases.rating_comment``; buttons in the REST mailbox.

``rated_at`` starts the short window in which the customer's next message is the comment;
``rating_comment`` is NULL while none was given, ``""`` once the customer skipped or moved on.
``rest_mailbox.buttons`` carries the 1-5 choices of the rating request to REST clients.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from bot.migrations import existing

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    offline = context.is_offline_mode()
    if offline or "rating_comment" not in existing.columns("cases"):
        with op.batch_alter_table("cases") as batch:
            batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True)))
            batch.add_column(sa.Column("rating_comment", sa.Text))
    if offline or "buttons" not in existing.columns("rest_mailbox"):
        with op.batch_alter_table("rest_mailbox") as batch:
            batch.add_column(sa.Column("buttons", sa.JSON))
