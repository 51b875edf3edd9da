"""${message.rstrip(".")}.

Revision ${up_revision}, after ${down_revision | comma,n}, made ${create_date}. Upgrades only:
a database is taken back by restoring its backup.
"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
