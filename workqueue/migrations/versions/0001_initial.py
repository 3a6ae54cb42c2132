"""Initial work-queue schema: claims, status findings, tasks and history, runs, letters, authorizations, packets.

Revision ID: 0001
Revises:
Create Date: 2026-03-02

Column types are spelled out here instead of importing workqueue.coltypes, so this revision keeps meaning
what it meant when it was written. It matches what `SQLModel.metadata.create_all` built before migrations
existed, which is why such databases are stamped at this revision instead of being migrated.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# UTCDateTime: TIMESTAMP WITH TIME ZONE on PostgreSQL (SQLite has no such type and stores text).
WHEN = sa.DateTime(timezone=True)
# Money: exact NUMERIC(12, 2) where the database has it, text on SQLite (whose NUMERIC would be a float).
MONEY = sa.Numeric(12, 2).with_variant(sa.String(24), "sqlite")


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=nullable)


def _required(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.String(), nullable=False) for n in names]


def _index(table: str, *columns: str, name: str | None = None) -> None:
    op.create_index(name or f"ix_{table}_{columns[0]}", table, list(columns), unique=False)


def upgrade() -> None:
    """Create every table, index and unique constraint of the work queue."""
    op.create_table(
        "claim",
        sa.Column("claim_number", sa.String(), nullable=False),
        *_required("payer_id"),
        _text("payer_name"), _text("member_id"), _text("patient_last_name"), _text("patient_first_name"),
        sa.Column("patient_dob", sa.Date(), nullable=True),
        sa.Column("date_of_service", sa.Date(), nullable=True),
        sa.Column("submitted_date", sa.Date(), nullable=True),
        sa.Column("billed_amount", MONEY, nullable=True),
        sa.Column("expected_amount", MONEY, nullable=True),
        _text("payer_claim_number"),
        *_required("procedure_codes", "units"),
        _text("auth_number"), _text("provider_npi"),
        sa.Column("in_inventory", sa.Boolean(), nullable=False),
        _text("status_category"), _text("raw_status"), _text("status_reference"),
        sa.Column("allowed", MONEY, nullable=True),
        sa.Column("paid", MONEY, nullable=True),
        sa.Column("patient_responsibility", MONEY, nullable=True),
        sa.Column("adjudication_date", sa.Date(), nullable=True),
        sa.Column("payment_date", sa.Date(), nullable=True),
        _text("check_number"),
        sa.Column("finalized", sa.Boolean(), nullable=False),
        sa.Column("last_checked_at", WHEN, nullable=True),
        sa.Column("next_check_at", WHEN, nullable=True),
        sa.Column("imported_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("claim_number"),
    )
    for column in ("auth_number", "finalized", "payer_claim_number", "payer_id"):
        _index("claim", column)

    op.create_table(
        "statusfinding",
        sa.Column("id", sa.Integer(), nullable=False),
        *_required("claim_number", "payer_id"),
        _text("status_category"),
        *_required("raw_status", "fingerprint"),
        sa.Column("observed_at", WHEN, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("finding", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["claim_number"], ["claim.claim_number"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("statusfinding", "claim_number")
    _index("statusfinding", "fingerprint")

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        *_required("kind"),
        _text("claim_number"),
        *_required("payer_id"),
        _text("account"),
        *_required("title"),
        sa.Column("payer_said", sa.Text(), nullable=True),
        _text("action"),
        *_required("owner"),
        sa.Column("deadline", sa.Date(), nullable=True),
        _text("reference_number"),
        *_required("priority", "status"),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("follow_up_date", sa.Date(), nullable=True),
        *_required("dedupe_key"),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        _text("closed_reason"), _text("closed_by"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    for column in ("claim_number", "kind", "payer_id"):
        _index("task", column)
    # The biller's worklist query: owner + status, ordered by deadline.
    _index("task", "owner", "status", "deadline", name="ix_task_owner_status_deadline")

    op.create_table(
        "taskhistory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        *_required("actor", "action"),
        _text("field"), _text("old"), _text("new"), _text("note"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("taskhistory", "task_id")

    op.create_table(
        "botrun",
        sa.Column("id", sa.Integer(), nullable=False),
        _text("flow_run_id"),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("payers", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        *_required("status"),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        *_required("sha256", "payer_id", "portal_document_id", "title"),
        sa.Column("letter_date", sa.Date(), nullable=True),
        *_required("stored_path", "original_file_name"),
        sa.Column("text", sa.Text(), nullable=False),
        *_required("doc_type"),
        _text("claim_number"), _text("payer_claim_number"), _text("reference_number"), _text("auth_number"),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("observed_at", WHEN, nullable=False),
        _text("url"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_id", "portal_document_id", name="uq_document_portal_id"),
        sa.UniqueConstraint("sha256"),
    )
    _index("document", "claim_number")
    _index("document", "payer_id")

    op.create_table(
        "authorization",
        sa.Column("id", sa.Integer(), nullable=False),
        *_required("payer_id", "auth_number", "member_id", "service"),
        sa.Column("procedure_codes", sa.JSON(), nullable=False),
        _text("provider"), _text("facility"),
        *_required("raw_status"),
        _text("status"),
        sa.Column("approved_units", sa.Integer(), nullable=True),
        sa.Column("used_units", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("requested_date", sa.Date(), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_id", "auth_number", name="uq_authorization_number"),
    )
    _index("authorization", "payer_id")

    op.create_table(
        "authorizationhistory",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        *_required("field"),
        _text("old"), _text("new"),
        sa.ForeignKeyConstraint(["authorization_id"], ["authorization.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("authorizationhistory", "authorization_id")

    op.create_table(
        "records_packet",
        *_required("packet_id"),
        sa.Column("task_id", sa.Integer(), nullable=False),
        _text("claim_number"),
        *_required("payer_id", "stored_path", "original_file_name", "sha256", "status"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _text("last_error"), _text("confirmation_number"),
        sa.Column("uploaded_at", WHEN, nullable=True),
        sa.Column("last_problem_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("packet_id"),
    )
    for column in ("payer_id", "status", "task_id"):
        _index("records_packet", column)


def downgrade() -> None:
    """Drop every table (and with them their indexes), children first."""
    for table in ("records_packet", "authorizationhistory", "authorization", "document", "botrun",
                  "taskhistory", "task", "statusfinding", "claim"):
        op.drop_table(table)
