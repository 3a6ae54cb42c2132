"""Many practices in one installation: a practice on claims, tasks, documents, packets and portal accounts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Every existing row becomes the default practice (the server default fills them); web users get a
`practices` list (empty: the default practice only). The worklist's covering index takes the practice
as its last column, so a person's view is narrowed inside the index in the order it already had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

DEFAULT_PRACTICE = "default"  # workqueue.practices.DEFAULT_PRACTICE when this revision was written
INDEXED = ("claim", "document", "records_packet")  # the task's practice is indexed in ix_task_worklist only
WORKLIST_BEFORE = ["owner", "kind", "payer_id", "status", "deadline", "snoozed_until", "claim_number",
                   "reference_number"]


def _practice() -> sa.Column:
    return sa.Column("practice", sa.String(), nullable=False, server_default=DEFAULT_PRACTICE)


def upgrade() -> None:
    """Add practice (NOT NULL, default 'default') with indexes; web_user.practices; practice in ix_task_worklist."""
    for table in (*INDEXED, "task", "portal_account"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(_practice())
    for table in INDEXED:
        op.create_index(f"ix_{table}_practice", table, ["practice"], unique=False)
    with op.batch_alter_table("web_user") as batch_op:
        batch_op.add_column(sa.Column("practices", sa.String(), nullable=False, server_default=""))
    op.drop_index("ix_task_worklist", table_name="task")
    op.create_index("ix_task_worklist", "task", [*WORKLIST_BEFORE, "practice"], unique=False)


def downgrade() -> None:
    """Drop what upgrade added (every row's practice is lost)."""
    op.drop_index("ix_task_worklist", table_name="task")
    op.create_index("ix_task_worklist", "task", WORKLIST_BEFORE, unique=False)
    with op.batch_alter_table("web_user") as batch_op:
        batch_op.drop_column("practices")
    for table in INDEXED:
        op.drop_index(f"ix_{table}_practice", table_name=table)
    for table in (*INDEXED, "task", "portal_account"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("practice")
