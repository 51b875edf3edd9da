"""``telegram_button_presses``: the update that pressed each message's keyboard first.

A double tap on a button, or a client that has not seen the keyboard removed yet, sends a
second press of the same message; before, it ran as a second choice (two turns, a form
answered twice). Only presses from now on are known: an older keyboard's first press is
the next one.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.migrations import existing

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing.create_table(
        existing.tables(),
        "telegram_button_presses",
        sa.Column("chat_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("update_id", sa.BigInteger, nullable=False),
        sa.Column("pressed_at", sa.DateTime(timezone=True), nullable=False),
    )
