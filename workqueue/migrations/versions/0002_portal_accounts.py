"""Portal accounts (blocks, nightly login counts, leases), their history, and run holders with heartbeats.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Accounts that an open login_failed / account_locked task stopped before this revision stay blocked: the
planner now reads blocks from portal_account, not from tasks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create portal_account and account_history; add holder and heartbeat to botrun; carry old blocks over."""
    op.create_table(
        "portal_account",
        sa.Column("payer_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("blocked_kind", sa.String(), nullable=True),
        sa.Column("blocked_reason", sa.String(), nullable=True),
        sa.Column("blocked_at", WHEN, nullable=True),
        sa.Column("blocked_task_id", sa.Integer(), nullable=True),
        sa.Column("night", sa.Date(), nullable=True),
        sa.Column("logins", sa.Integer(), nullable=False),
        sa.Column("lease_run_id", sa.Integer(), nullable=True),
        sa.Column("lease_holder", sa.String(), nullable=True),
        sa.Column("lease_expires_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("payer_id", "account"),
    )
    op.create_table(
        "account_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_history_payer_id", "account_history", ["payer_id"], unique=False)
    op.add_column("botrun", sa.Column("holder", sa.String(), nullable=True))
    op.add_column("botrun", sa.Column("heartbeat_at", WHEN, nullable=True))
    connection = op.get_bind()
    open_blocks = connection.execute(sa.text(
        "SELECT id, payer_id, account, kind, created_at FROM task WHERE kind IN ('login_failed', 'account_locked') "
        "AND status IN ('open', 'in_progress', 'waiting_on_payer') AND account IS NOT NULL ORDER BY id")).all()
    seen: set[tuple[str, str]] = set()
    for task_id, payer_id, account, kind, created_at in open_blocks:
        if (payer_id, account) in seen:
            continue
        seen.add((payer_id, account))
        connection.execute(sa.text(
            "INSERT INTO portal_account (payer_id, account, state, blocked_kind, blocked_reason, blocked_at, "
            "blocked_task_id, logins, updated_at) VALUES (:p, :a, 'blocked', :k, :r, :t, :id, 0, :t)"),
            {"p": payer_id, "a": account, "k": kind, "r": f"open {kind} task #{task_id}", "t": created_at,
             "id": task_id})


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_column("botrun", "heartbeat_at")
    op.drop_column("botrun", "holder")
    op.drop_index("ix_account_history_payer_id", table_name="account_history")
    op.drop_table("account_history")
    op.drop_table("portal_account")
