"""Clearinghouse files: the edi_file table, status findings read from a file, a claim's last file status.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

`edi_file` records every imported 277/277CA/835 by its SHA-256 (a second import of the same bytes changes
nothing). `statusfinding.edi_file_id` names the file a finding was read from (NULL: a portal). A claim's
`file_status_at` is when a file last said pending or asked for information; the planner then sends a bot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# UTCDateTime spelled out (as in 0001) so this revision keeps its meaning if workqueue.coltypes changes.
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create edi_file; add statusfinding.edi_file_id (indexed) and claim.file_status_at."""
    op.create_table(
        "edi_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("kinds", sa.String(), nullable=False),
        sa.Column("interchanges", sa.String(), nullable=False),
        sa.Column("imported_at", WHEN, nullable=False),
        sa.Column("imported_by", sa.String(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            "claims", "matched", "unmatched", "findings_stored", "tasks_created", "tasks_closed", "visits_saved")),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_edi_file_sha256", "edi_file", ["sha256"], unique=True)
    with op.batch_alter_table("statusfinding") as batch_op:
        batch_op.add_column(sa.Column("edi_file_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_statusfinding_edi_file_id", ["edi_file_id"], unique=False)
        batch_op.create_foreign_key("fk_statusfinding_edi_file", "edi_file", ["edi_file_id"], ["id"])
    with op.batch_alter_table("claim") as batch_op:
        batch_op.add_column(sa.Column("file_status_at", WHEN, nullable=True))


def downgrade() -> None:
    """Drop what upgrade added (which findings came from files is lost)."""
    with op.batch_alter_table("claim") as batch_op:
        batch_op.drop_column("file_status_at")
    with op.batch_alter_table("statusfinding") as batch_op:
        batch_op.drop_constraint("fk_statusfinding_edi_file", type_="foreignkey")
        batch_op.drop_index("ix_statusfinding_edi_file_id")
        batch_op.drop_column("edi_file_id")
    op.drop_index("ix_edi_file_sha256", table_name="edi_file")
    op.drop_table("edi_file")
