"""Indexes for the web worklist at 100k tasks: a covering index for its counts and a partial one for snoozes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Measured with benchmarks/bench_web_worklist.py (see benchmarks/README.md and the comments on Task's
__table_args__ in workqueue/models.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

WORKLIST_COLUMNS = ["owner", "kind", "payer_id", "status", "deadline", "snoozed_until", "claim_number",
                    "reference_number"]
SNOOZED = sa.text("snoozed_until IS NOT NULL")


def upgrade() -> None:
    """Create ix_task_worklist (covering the worklist's counts and search) and ix_task_snoozed_until (partial)."""
    op.create_index("ix_task_worklist", "task", WORKLIST_COLUMNS, unique=False)
    op.create_index("ix_task_snoozed_until", "task", ["snoozed_until"], unique=False,
                    sqlite_where=SNOOZED, postgresql_where=SNOOZED)


def downgrade() -> None:
    """Drop both indexes."""
    op.drop_index("ix_task_snoozed_until", table_name="task")
    op.drop_index("ix_task_worklist", table_name="task")
