"""Payer stops: a portal that changed during a bot run stops that payer's lanes on every worker.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

One row per (bot run, payer), written by the lane that met the changed page and read by the payer's other
lanes, which may run in other processes on other machines (a Prefect work pool).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# UTCDateTime spelled out (as in 0001) so this revision keeps its meaning if workqueue.coltypes changes.
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create payer_stop."""
    op.create_table(
        "payer_stop",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "payer_id"),
    )


def downgrade() -> None:
    """Drop payer_stop."""
    op.drop_table("payer_stop")
