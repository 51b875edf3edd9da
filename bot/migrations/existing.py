"""What a revision finds before it changes anything: a database from before Alembic has some of it already.

Before Alembic each store made its own tables with ``create_all``, so such a database holds
any mix of them, in the shape of whichever commit made each one. Revisions ask here first
and make only what is missing. ``--sql`` mode has no database to ask: the revision then
names the tables the revisions before it made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import context, op


def tables(offline: Iterable[str] = ()) -> set[str]:
    """Tables in the database now; ``offline`` in ``--sql`` mode."""
    if context.is_offline_mode():
        return set(offline)
    return set(sa.inspect(op.get_bind()).get_table_names())


def columns(table: str) -> set[str]:
    """Columns of ``table`` now: only for a table that ``tables`` found (``--sql`` mode finds none)."""
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def create_table(
    present: set[str], name: str, *elements: sa.schema.SchemaItem, indexes: Sequence[tuple[str, list[str]]] = ()
) -> bool:
    """Create ``name`` and its indexes unless ``present`` has it; True when it was created."""
    if name in present:
        return False
    op.create_table(name, *elements)
    for index, index_columns in indexes:
        op.create_index(index, name, index_columns)
    return True
