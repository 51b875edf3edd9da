"""Tables since the baseline: the Telegram rework, instances, the X inbox, group updates, REST conversations.

New tables: ``runtime_instances``, ``agent_group_updates``, ``x_inbox``,
``rest_conversations``, ``telegram_updates`` and ``telegram_replies``, each made only when
missing (a database from before Alembic may have them from a later commit's
``create_all``); ``telegram_replies.reply_key`` is added where an earlier shape lacks it.

``telegram_inbox`` and ``telegram_outbox`` became ``telegram_updates`` and
``telegram_replies``. Their rows are copied over, then the old tables dropped:

- updates keep their id, chat, payload (as stored: before 7bdab72 that is the raw update;
  the gate still redacts its text before Rasa and the case see it), status and times; one
  that was claimed when the old process stopped counts one attempt, so it runs as a replay.
- replies keep their order (new ids in the old ids' order), chat, body, message id, error
  and times; each gets its place in its update's turn (``seq``) and the ``bot`` origin, but
  no ``reply_key`` (unknown then: a replay that Rasa's tracker does not show finished may
  add that turn's replies again). ``sending`` becomes ``pending`` flagged
  ``possible_duplicate`` (it may have reached Telegram); ``uncertain`` (timed out, never
  resent) becomes ``failed``.

Where ``telegram_updates`` or ``telegram_replies`` already existed, a later commit's
``create_all`` had made them and the old rows were left unread since, maybe for days:
their rows are still copied, but a pending one becomes ``failed`` with a note instead of
answering or sending that late. An update already in ``telegram_updates`` is not copied.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from alembic import op

from bot.migrations import existing

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)  # the stores' UtcDateTime
LEFT_BEHIND = "left in {} by an upgrade before Alembic; not handled"


def upgrade() -> None:
    present = existing.tables(offline={"telegram_inbox", "telegram_outbox"})
    create = functools.partial(existing.create_table, present)
    create(
        "runtime_instances",
        sa.Column("instance_id", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
    )
    create(
        "agent_group_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC),
    )
    create(
        "x_inbox",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("sort_key", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("finished_at", UTC),
        indexes=[("ix_x_inbox_due", ["status", "next_attempt_at"]), ("ix_x_inbox_user", ["user_id", "sort_key"])],
    )
    create(
        "rest_conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    updates_are_new = create(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("chat_key", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", sa.Float),
        sa.Column("not_before", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("processed_at", UTC),
        indexes=[("ix_telegram_updates_chat_key", ["chat_key"]), ("ix_telegram_updates_status", ["status"])],
    )
    replies_are_new = create(
        "telegram_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("update_id", sa.BigInteger),
        sa.Column("seq", sa.Integer),
        sa.Column("reply_key", sa.String(80)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(64)),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("possible_duplicate", sa.Boolean, nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", sa.Float),
        sa.Column("not_before", sa.Float),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC),
        sa.UniqueConstraint("update_id", "seq", name="uq_telegram_replies_turn_seq"),
        indexes=[("ix_telegram_replies_chat_id", ["chat_id"]), ("ix_telegram_replies_status", ["status"])],
    )
    if not replies_are_new and "reply_key" not in existing.columns("telegram_replies"):
        with op.batch_alter_table("telegram_replies") as batch:
            batch.add_column(sa.Column("reply_key", sa.String(80)))
    if "telegram_inbox" in present:
        _copy_updates(left_behind=not updates_are_new)
        op.drop_table("telegram_inbox")
    if "telegram_outbox" in present:
        _copy_replies(left_behind=not replies_are_new)
        op.drop_table("telegram_outbox")


def _copy_updates(*, left_behind: bool) -> None:
    old = _table(
        "telegram_inbox",
        ["update_id", "chat_key", "payload", "status", "claimed_until", "created_at", "processed_at"],
    )
    pending = old.c.status == "pending"
    status = sa.case((pending, "failed"), else_=old.c.status) if left_behind else old.c.status
    error = sa.case((pending, LEFT_BEHIND.format("telegram_inbox"))) if left_behind else sa.null()
    attempts = sa.case((pending & old.c.claimed_until.is_(None), 0), else_=1)
    rows = sa.select(
        old.c.update_id, old.c.chat_key, old.c.payload, status, attempts, error, old.c.created_at, old.c.processed_at
    ).where(old.c.update_id.notin_(sa.select(_table("telegram_updates", ["update_id"]).c.update_id)))
    columns = ["update_id", "chat_key", "payload", "status", "attempts", "error", "created_at", "processed_at"]
    op.execute(_table("telegram_updates", columns).insert().from_select(columns, rows))


def _copy_replies(*, left_behind: bool) -> None:
    old = _table(
        "telegram_outbox",
        ["id", "chat_id", "update_id", "body", "status", "message_id", "error", "created_at", "sent_at"],
    )
    unsent, uncertain = old.c.status.in_(("pending", "sending")), old.c.status == "uncertain"
    unconfirmed = sa.literal("unconfirmed by Telegram before the upgrade, not sent again: ").op("||")(
        sa.func.coalesce(old.c.error, "timed out")
    )
    seq: sa.sql.ColumnElement
    duplicate: sa.sql.ColumnElement
    if left_behind:
        seq = sa.null()  # the newer code may have placed replies of the same turn
        status = sa.case((unsent | uncertain, "failed"), else_=old.c.status)
        error = sa.case((unsent, LEFT_BEHIND.format("telegram_outbox")), (uncertain, unconfirmed), else_=old.c.error)
        duplicate = sa.false()
    else:
        earlier = old.alias("earlier")
        place = sa.select(sa.func.count()).where(earlier.c.update_id == old.c.update_id, earlier.c.id < old.c.id)
        seq = sa.case((old.c.update_id.is_not(None), place.scalar_subquery()))
        status = sa.case((old.c.status == "sending", "pending"), (uncertain, "failed"), else_=old.c.status)
        error = sa.case((uncertain, unconfirmed), else_=old.c.error)
        duplicate = sa.case((old.c.status == "sending", sa.true()), else_=sa.false())
    attempts = sa.case((old.c.status == "pending", 0), else_=1)
    values = [old.c.chat_id, old.c.update_id, seq, sa.literal("bot"), old.c.body, status, attempts, duplicate]
    values += [old.c.message_id, error, old.c.created_at, old.c.sent_at]
    columns = ["chat_id", "update_id", "seq", "origin", "body", "status", "attempts", "possible_duplicate"]
    columns += ["message_id", "error", "created_at", "sent_at"]
    rows = sa.select(*values).order_by(old.c.id)  # new ids in the old ids' order
    op.execute(_table("telegram_replies", columns).insert().from_select(columns, rows))


def _table(name: str, columns: list[str]) -> sa.sql.TableClause:
    """A table by name and columns only: a revision must not depend on today's models."""
    return sa.table(name, *(sa.column(column) for column in columns))
