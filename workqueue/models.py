"""The work queue's tables: claims, stored findings, tasks and their history, letters, authorizations, packets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from bots.findings import utc_now
from workqueue.coltypes import Money, UTCDateTime
from workqueue.practices import DEFAULT_PRACTICE

TASK_STATUSES = ("open", "in_progress", "waiting_on_payer", "done", "cancelled")
ACTIVE_STATUSES = ("open", "in_progress", "waiting_on_payer")
# unconfirmed: the portal may or may not have it (a crash or an error after submit); the next night looks it
# up in the portal's own submission history before anything is sent again.
PACKET_STATUSES = ("draft", "queued", "uploading", "unconfirmed", "uploaded", "failed")
ACCOUNT_STATES = ("ok", "blocked")
# Each role can do everything the roles before it can.
USER_ROLES = ("biller", "operator", "admin")


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _money(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=Money, **kwargs)


def _practice(**kwargs: Any) -> Any:
    # The server default lets rows written before practices existed (and by older code) read as the default one.
    return Field(default=DEFAULT_PRACTICE, sa_column_kwargs={"server_default": DEFAULT_PRACTICE}, **kwargs)


class Claim(SQLModel, table=True):
    """One claim of the practice's inventory plus what the bots last saw of it on the portal."""

    claim_number: str = Field(primary_key=True, description="the practice's claim number (CLM01)")
    payer_id: str = Field(index=True)
    practice: str = _practice(index=True)  # the client practice the claim belongs to
    payer_name: str | None = None
    member_id: str | None = None
    patient_last_name: str | None = None
    patient_first_name: str | None = None
    patient_dob: date | None = None
    date_of_service: date | None = None
    submitted_date: date | None = None
    billed_amount: Decimal | None = _money()
    expected_amount: Decimal | None = _money()
    payer_claim_number: str | None = Field(default=None, index=True)
    procedure_codes: str = ""  # ';'-separated, as the inventory exports them
    units: str = ""  # ';'-separated, one per procedure code
    auth_number: str | None = Field(default=None, index=True)
    provider_npi: str | None = None
    in_inventory: bool = True  # False for a claim known only from a portal finding
    # current status, from the latest finding
    status_category: str | None = None
    raw_status: str | None = None
    status_reference: str | None = None
    allowed: Decimal | None = _money()
    paid: Decimal | None = _money()
    patient_responsibility: Decimal | None = _money()
    adjudication_date: date | None = None
    payment_date: date | None = None
    check_number: str | None = None
    finalized: bool = Field(default=False, index=True)
    last_checked_at: datetime | None = _when(default=None)  # the last portal check (files don't count)
    next_check_at: datetime | None = _when(default=None)
    imported_at: datetime | None = _when(default=None)
    # When a clearinghouse file last said pending or asked for information: the portal holds the detail, so
    # the night visits the claim if this is newer than the last portal check (workqueue.planning).
    file_status_at: datetime | None = _when(default=None)

    def code_list(self) -> list[str]:
        """The procedure codes as a list."""
        return [c.strip() for c in self.procedure_codes.split(";") if c.strip()]

    def unit_list(self) -> list[int]:
        """Units per procedure code (1 where the inventory left it blank)."""
        units = [u.strip() for u in self.units.split(";")]
        codes = self.code_list()
        return [int(units[i]) if i < len(units) and units[i].isdigit() else 1 for i in range(len(codes))]


class StatusFinding(SQLModel, table=True):
    """Append-only history of claim status findings; identical repeats are not stored again."""

    id: int | None = Field(default=None, primary_key=True)
    claim_number: str = Field(foreign_key="claim.claim_number", index=True)
    payer_id: str
    status_category: str | None = None
    raw_status: str
    fingerprint: str = Field(index=True, description="hash of the finding without provenance")
    observed_at: datetime = _when()
    run_id: int | None = None
    edi_file_id: int | None = Field(default=None, foreign_key="edi_file.id", index=True)  # read from a file
    finding: dict = Field(default_factory=dict, sa_type=JSON)


class Task(SQLModel, table=True):
    """Something a biller or operator must do next, with owner, deadline and the payer's reference."""

    __table_args__ = (
        Index("ix_task_owner_status_deadline", "owner", "status", "deadline"),
        # The web worklist's counts (workqueue.web.queries.facet_counts) group by (owner, kind, payer_id, status)
        # and read only columns held here: SQLite reads this covering index in GROUP BY order (no table, no sort),
        # searched by owner for "mine" and "my team"; the total and the text search read it too. Measured
        # (benchmarks/bench_web_worklist.py, 100k tasks, the counts' SQL alone): scope=all ~200 ms -> ~40 ms,
        # team ~50 ms -> ~10 ms, mine ~10 ms -> ~2 ms, the search's (q=C12) ~160 ms -> ~15-20 ms.
        # practice is last: it narrows a person's view inside the index without changing its order (admins
        # and the counts' GROUP BY keep the measured plan; a practice filter reads no table rows either).
        Index("ix_task_worklist", "owner", "kind", "payer_id", "status", "deadline", "snoozed_until",
              "claim_number", "reference_number", "practice"),
        # The worklist's "N snoozed" line (snoozed_until > today): only the few snoozed tasks are in it, and
        # being partial it is never picked for the "not snoozed" test (snoozed_until IS NULL OR ...), where a
        # multi-index OR over it measured 52 ms against a 24 ms plain scan. Measured: 10-20 ms -> ~2 ms.
        Index("ix_task_snoozed_until", "snoozed_until", sqlite_where=sql_text("snoozed_until IS NOT NULL"),
              postgresql_where=sql_text("snoozed_until IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    claim_number: str | None = Field(default=None, index=True)
    payer_id: str = Field(index=True)
    # its claim's, else its portal account's; indexed only inside ix_task_worklist (a separate index was picked
    # for a practice filter and then sorted every task for the counts' GROUP BY)
    practice: str = _practice()
    account: str | None = None
    title: str
    payer_said: str | None = Field(default=None, sa_type=Text)
    action: str | None = None
    owner: str
    deadline: date | None = None
    reference_number: str | None = None
    priority: str = "normal"
    status: str = "open"
    evidence: list = Field(default_factory=list, sa_type=JSON)
    follow_up_date: date | None = None
    dedupe_key: str = Field(unique=True)
    created_at: datetime = _when(default_factory=utc_now)
    updated_at: datetime = _when(default_factory=utc_now)
    closed_reason: str | None = None
    closed_by: str | None = None  # "bot" or a user: the bot reopens only what it closed itself
    snoozed_until: date | None = None  # a biller's snooze: out of the worklist until this day


class TaskHistory(SQLModel, table=True):
    """Append-only log of every change to a task: who, when, which field, old and new value, why."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    at: datetime = _when(default_factory=utc_now)
    actor: str = "bot"
    action: str
    field: str | None = None
    old: str | None = None
    new: str | None = None
    note: str | None = None


class BotRun(SQLModel, table=True):
    """One night's run (or a manual one): when, which payers, what it found, what failed."""

    id: int | None = Field(default=None, primary_key=True)
    flow_run_id: str | None = None
    started_at: datetime = _when(default_factory=utc_now)
    finished_at: datetime | None = _when(default=None)
    duration_s: float | None = None
    payers: list = Field(default_factory=list, sa_type=JSON)
    counts: dict = Field(default_factory=dict, sa_type=JSON)
    errors: list = Field(default_factory=list, sa_type=JSON)
    status: str = "running"  # running, completed, failed, interrupted (its process died mid-run)
    holder: str | None = None  # "host:pid" of the process running it
    heartbeat_at: datetime | None = _when(default=None)


class Document(SQLModel, table=True):
    """A letter downloaded from a portal, stored once under a name we build, with what we read in it."""

    __table_args__ = (UniqueConstraint("payer_id", "portal_document_id", name="uq_document_portal_id"),)

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(unique=True)
    payer_id: str = Field(index=True)
    practice: str = _practice(index=True)  # the practice of the account it was downloaded through
    portal_document_id: str
    title: str
    letter_date: date | None = None
    stored_path: str
    original_file_name: str
    text: str = Field(default="", sa_type=Text)
    doc_type: str = "other"
    claim_number: str | None = Field(default=None, index=True)
    payer_claim_number: str | None = None
    reference_number: str | None = None
    auth_number: str | None = None
    due_date: date | None = None
    observed_at: datetime = _when(default_factory=utc_now)
    url: str | None = None


class Authorization(SQLModel, table=True):
    """A prior authorization's current state as the portal last showed it."""

    __table_args__ = (UniqueConstraint("payer_id", "auth_number", name="uq_authorization_number"),)

    id: int | None = Field(default=None, primary_key=True)
    payer_id: str = Field(index=True)
    auth_number: str
    member_id: str
    service: str
    procedure_codes: list = Field(default_factory=list, sa_type=JSON)
    provider: str | None = None
    facility: str | None = None
    raw_status: str
    status: str | None = None
    approved_units: int | None = None
    used_units: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    requested_date: date | None = None
    decision_date: date | None = None
    last_seen_at: datetime = _when(default_factory=utc_now)


class AuthorizationHistory(SQLModel, table=True):
    """Field-level changes of an authorization between two findings."""

    id: int | None = Field(default=None, primary_key=True)
    authorization_id: int = Field(foreign_key="authorization.id", index=True)
    at: datetime = _when(default_factory=utc_now)
    field: str
    old: str | None = None
    new: str | None = None


class RecordsPacket(SQLModel, table=True):
    """A biller's records packet for one task: draft, queued for the night, uploaded or failed."""

    __tablename__ = "records_packet"

    packet_id: str = Field(primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    claim_number: str | None = None
    payer_id: str = Field(index=True)
    practice: str = _practice(index=True)  # its task's: uploaded only through an account of this practice
    stored_path: str
    original_file_name: str
    sha256: str
    status: str = Field(default="draft", index=True)
    attempts: int = 0
    last_error: str | None = None
    confirmation_number: str | None = None
    uploaded_at: datetime | None = _when(default=None)
    last_problem_at: datetime | None = _when(default=None)  # the same problem persisted twice counts once
    created_at: datetime = _when(default_factory=utc_now)
    updated_at: datetime = _when(default_factory=utc_now)


class PortalAccount(SQLModel, table=True):
    """One portal account's standing: blocked by a login problem or not, tonight's logins, who holds it now."""

    __tablename__ = "portal_account"

    payer_id: str = Field(primary_key=True)
    account: str = Field(primary_key=True)
    practice: str = _practice()  # from the account's credential, recorded when a night plans it
    state: str = "ok"  # ok or blocked (only an operator clears a block)
    blocked_kind: str | None = None  # the task kind that blocked it: login_failed, mfa_required, ...
    blocked_reason: str | None = None
    blocked_at: datetime | None = _when(default=None)
    blocked_task_id: int | None = None
    night: date | None = None  # the night `logins` counts for
    logins: int = 0
    lease_run_id: int | None = None  # the live run working this account, if any
    lease_holder: str | None = None  # "host:pid"
    lease_expires_at: datetime | None = _when(default=None)
    updated_at: datetime = _when(default_factory=utc_now)


class AccountHistory(SQLModel, table=True):
    """Append-only log of what happened to a portal account: blocked, cleared (by whom, why)."""

    __tablename__ = "account_history"

    id: int | None = Field(default=None, primary_key=True)
    payer_id: str = Field(index=True)
    account: str
    at: datetime = _when(default_factory=utc_now)
    actor: str = "bot"
    action: str
    note: str | None = None


class WebUser(SQLModel, table=True):
    """A person who signs in to the web worklist: a role, a team, an argon2 password hash (never the password)."""

    __tablename__ = "web_user"

    name: str = Field(primary_key=True)
    role: str = "biller"  # one of USER_ROLES
    team: str | None = None  # the owner name their team's tasks carry, e.g. denials-team
    # Comma-separated practice ids a biller or operator sees; none listed: the default practice only. Admins see all.
    practices: str = Field(default="", sa_column_kwargs={"server_default": ""})
    password_hash: str
    disabled: bool = False
    created_at: datetime = _when(default_factory=utc_now)
    updated_at: datetime = _when(default_factory=utc_now)
    last_sign_in_at: datetime | None = _when(default=None)


class WebSession(SQLModel, table=True):
    """A signed-in browser: stored by the hash of its cookie, so the table alone signs nobody in."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True)
    user_name: str = Field(foreign_key="web_user.name", index=True)
    csrf_token: str
    created_at: datetime = _when(default_factory=utc_now)
    last_seen_at: datetime = _when(default_factory=utc_now)
    address: str | None = None


class SignInThrottle(SQLModel, table=True):
    """Recent failed sign-ins per user name and per address; past the limit, sign-in waits (same for unknown names)."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True)  # "name:<lowercased name>" or "address:<ip>"
    failures: int = 0
    first_failure_at: datetime = _when(default_factory=utc_now)
    locked_until: datetime | None = _when(default=None)


class PayerStop(SQLModel, table=True):
    """A payer whose portal changed during a bot run: every lane of it, on any worker, stops for that run."""

    __tablename__ = "payer_stop"

    run_id: int = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    account: str  # the lane that found the changed page
    at: datetime = _when(default_factory=utc_now)


class AuditEvent(SQLModel, table=True):
    """Append-only record of who saw or changed what, when and from where (HIPAA 164.312(b)); never updated."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(default_factory=utc_now, index=True)
    actor: str = Field(index=True)
    role: str | None = None
    action: str = Field(index=True)  # view, change, export, sign_in, sign_in_refused, sign_out, ...
    object_type: str  # task, claim, letter, screenshot, packet, export, worklist, user, account, ...
    object_id: str | None = Field(default=None, index=True)
    detail: str | None = Field(default=None, sa_type=Text)
    source: str  # "web 10.0.0.7" or "cli host/login"


class EdiFile(SQLModel, table=True):
    """A clearinghouse X12 file imported once (277, 277CA, 835): its hash makes a second import a no-op."""

    __tablename__ = "edi_file"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(unique=True, index=True)
    file_name: str
    kinds: str = ""  # ','-separated transactions in it: 277, 277CA, 835
    interchanges: str = ""  # ','-separated ISA13 control numbers
    imported_at: datetime = _when(default_factory=utc_now)
    imported_by: str = "bot"
    claims: int = 0
    matched: int = 0
    unmatched: int = 0
    findings_stored: int = 0
    tasks_created: int = 0
    tasks_closed: int = 0
    # claims this file finalized that were still open: the portal visits it saved
    visits_saved: int = 0
