"""Typer sub-apps the `payerbot` command mounts: `claims import` and the `tasks` worklist commands.

Who sees what: without PAYERBOT_USER the CLI is the machine's operator and sees every practice; with
PAYERBOT_USER=<web user> it shows only that user's practices and the audit trail records that user.
`--practice P` (repeatable) narrows either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workqueue.audit import cli_actor, record_cli
from workqueue.claims import claim_as_dict, list_claims
from workqueue.claimview import claim_detail, search_claims
from workqueue.cli_scope import CliUserError, cli_practices
from workqueue.db import get_engine, init_db, session_scope
from workqueue.inventory import InventoryError, import_claims
from workqueue.models import Task
from workqueue.practices import Practices, may_see
from workqueue.tasks import (
    assign,
    attach_packet,
    close,
    get_task,
    history,
    list_tasks,
    queue_upload,
    task_as_dict,
)

_SCOPE_HELP = ("Without PAYERBOT_USER the CLI is the machine's operator and sees every practice; with "
               "PAYERBOT_USER=<web user> only that user's practices (and the audit trail records that user).")
claims_app = typer.Typer(help="The practice's claims inventory. " + _SCOPE_HELP, no_args_is_help=True)
tasks_app = typer.Typer(help="The worklist: tasks the bots raised for billers and operators. " + _SCOPE_HELP,
                        no_args_is_help=True)
PracticeOption = Annotated[list[str] | None, typer.Option(
    "--practice", help="Only this practice (repeatable); within PAYERBOT_USER's practices when that is set.")]
console = Console()


@claims_app.callback()
def _claims() -> None:
    """The practice's claims inventory."""  # a callback keeps `import` a sub-command even when alone


def open_engine():
    """The work-queue database, brought to the newest schema."""
    engine = get_engine()
    init_db(engine)
    return engine


def current_actor() -> str:
    """Who is at the terminal: PAYERBOT_USER if set, else the OS login name; the actor of CLI changes."""
    return cli_actor()


def scope(session, wanted: list[str] | None = None) -> Practices:
    """The practices this command shows (PAYERBOT_USER's or every one, narrowed by --practice); exits if unknown."""
    try:
        return cli_practices(session, wanted)
    except (CliUserError, ValueError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def scoped_task(session, task_id: int, wanted: list[str] | None = None) -> Task:
    """The task if it is in this command's practices; another practice's task is 'no task N', like a missing one."""
    try:
        task = get_task(session, task_id)
    except LookupError as exc:
        _fail(str(exc))
        raise
    if not may_see(task.practice, scope(session, wanted)):
        _fail(f"no task {task_id}")
    return task


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@claims_app.command("import")
def claims_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="inventory CSV")]) -> None:
    """Import a claims inventory CSV: every row is checked first; one bad line and nothing is imported."""
    try:
        with session_scope(open_engine()) as session:
            report = import_claims(file, session)
    except InventoryError as exc:
        for message in exc.messages():
            typer.echo(message)
        typer.echo(f"{len(exc.errors)} problem(s); nothing imported", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{report.rows} rows: {report.new} new, {report.updated} updated, {report.unchanged} unchanged")


@claims_app.command("list")
def claims_list(
    payer: Annotated[str | None, typer.Option(help="Only this payer.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status category (F1) or group (F, P, R...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    practice: PracticeOption = None,
) -> None:
    """Where each claim stands: status category, the payer's wording, paid, patient share, last and next check."""
    with session_scope(open_engine()) as session:
        rows = [claim_as_dict(c) for c in list_claims(session, payer_id=payer, category=status,
                                                      practices=scope(session, practice))]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("claim", "payer", "status", "payer said", "paid", "patient", "last checked (UTC)", "next check")
    for row in rows:
        table.add_row(row["claim_number"], row["payer_id"], row["status_category"] or "", row["raw_status"] or "",
                      row["paid"] or "", row["patient_responsibility"] or "", (row["last_checked_at"] or "")[:16],
                      (row["next_check_at"] or "")[:16])
    console.print(table)


def _add_plain(table: Table, *values: object) -> None:
    """A table row shown as typed: brackets in a portal's wording or a name are not rich markup."""
    table.add_row(*(escape("" if v is None else str(v)) for v in values))


@claims_app.command("search")
def claims_search(
    text: Annotated[str, typer.Argument(help="claim number, payer claim number, member id or patient name")],
    limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    practice: PracticeOption = None,
) -> None:
    """Find claims by claim number, payer claim number (ICN), member id (exact or the start) or patient name."""
    with session_scope(open_engine()) as session:
        claims = search_claims(session, text, limit=limit, practices=scope(session, practice))
    rows = [{"claim_number": c.claim_number, "payer_id": c.payer_id, "payer_name": c.payer_name,
             "patient_last_name": c.patient_last_name, "patient_first_name": c.patient_first_name,
             "member_id": c.member_id, "payer_claim_number": c.payer_claim_number,
             "date_of_service": c.date_of_service.isoformat() if c.date_of_service else None,
             "status_category": c.status_category, "raw_status": c.raw_status} for c in claims]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("claim", "payer", "patient", "member id", "payer claim number", "date of service", "status",
                  title=f"{len(rows)} claim(s)")
    for row in rows:
        patient = ", ".join(p for p in (row["patient_last_name"], row["patient_first_name"]) if p)
        status = " ".join(p for p in (row["status_category"], row["raw_status"]) if p)
        _add_plain(table, row["claim_number"], row["payer_id"], patient, row["member_id"] or "",
                      row["payer_claim_number"] or "", row["date_of_service"] or "", status)
    console.print(table)


@claims_app.command("show")
def claims_show(
    claim: Annotated[str, typer.Argument(help="the practice's claim number")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    practice: PracticeOption = None,
) -> None:
    """One claim: its current status, every status the bots read, its tasks, letters and uploads."""
    with session_scope(open_engine()) as session:
        detail = claim_detail(session, claim, scope(session, practice))  # another practice's: 'no claim
        if detail is not None:
            record_cli(session, "view", "claim", claim)
    if detail is None:
        _fail(f"no claim {claim}")
    if as_json:
        typer.echo(json.dumps(detail, indent=2))
        return
    info, status = detail["claim"], detail["status"]
    facts = Table(show_header=False, title=f"Claim {info['claim_number']}")
    category = (status["category"] or "unmapped") if status["raw_status"] else "not checked yet"
    if status["meaning"]:
        category = f"{category} ({status['meaning']})"
    for key, value in (
            ("payer", info["payer_id"] + (f" ({info['payer_name']})" if info["payer_name"] else "")),
            ("patient", info["patient_name"]), ("member id", info["member_id"]),
            ("date of service", info["date_of_service"]), ("billed", info["billed_amount"]),
            ("procedure codes", ", ".join(info["procedure_codes"])),
            ("payer claim number", info["payer_claim_number"]),
            ("status", category), ("payer said", status["raw_status"]), ("reference", status["reference_number"]),
            ("paid", status["paid"]), ("patient responsibility", status["patient_responsibility"]),
            ("check/EFT number", status["check_number"]), ("paid on", status["payment_date"]),
            ("last checked (UTC)", (status["last_checked_at"] or "")[:16]),
            ("next check (UTC)", (status["next_check_at"] or "")[:16] or ("none: finalized"
                                                                         if status["finalized"] else ""))):
        _add_plain(facts, key, str(value or ""))
    console.print(facts)
    timeline = Table("read (UTC)", "run", "category", "payer said", "reference", "paid", "CARC",
                     title="Status findings")
    for f in detail["findings"]:
        _add_plain(timeline, (f["observed_at"] or "")[:16], str(f["run_id"] or ""),
                         " – ".join(p for p in (f["category"] or "unmapped", f["meaning"] or "") if p),
                         f["raw_status"], f["reference_number"] or "", f["paid"] or "", ", ".join(f["carc_codes"]))
    console.print(timeline)
    tasks = Table("id", "kind", "title", "owner", "status", "deadline", "reference", title="Tasks")
    for t in detail["tasks"]:
        _add_plain(tasks, str(t["id"]), t["kind"], t["title"], t["owner"], t["status"], t["deadline"] or "",
                      t["reference_number"] or "")
    console.print(tasks)
    documents = Table("id", "letter date", "type", "title", "due", "reference", title="Letters")
    for d in detail["documents"]:
        _add_plain(documents, str(d["id"]), d["letter_date"] or "", d["doc_type"], d["title"], d["due_date"] or "",
                          d["reference_number"] or "")
    console.print(documents)
    uploads = Table("packet", "task", "file", "status", "confirmation", "uploaded (UTC)", title="Uploads")
    for u in detail["uploads"]:
        _add_plain(uploads, u["packet_id"], str(u["task_id"]), u["original_file_name"], u["status"],
                        u["confirmation_number"] or "", (u["uploaded_at"] or "")[:16])
    console.print(uploads)


@tasks_app.command("list")
def tasks_list(
    owner: str | None = typer.Option(None, help="owner (team or person)"),
    kind: str | None = typer.Option(None, help="task kind, e.g. denial_review"),
    payer: str | None = typer.Option(None, help="payer id"),
    status: str | None = typer.Option(None, help="open, in_progress, waiting_on_payer, done, cancelled or all; "
                                                 "default: the active ones"),
    limit: int | None = typer.Option(None, help="at most this many"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON array"),
    practice: PracticeOption = None,
) -> None:
    """List tasks by deadline."""
    with session_scope(open_engine()) as session:
        tasks = list_tasks(session, owner=owner, kind=kind, payer=payer, status=status, limit=limit,
                           practices=scope(session, practice))
        record_cli(session, "view", "worklist", detail=f"{len(tasks)} task(s)")
        if as_json:
            typer.echo(json.dumps([task_as_dict(t, session) for t in tasks], indent=2, default=str))
            return
        table = Table(title=f"{len(tasks)} task(s)")
        for column in ("id", "deadline", "priority", "kind", "payer", "claim", "owner", "reference", "status"):
            table.add_column(column)
        for t in tasks:
            table.add_row(str(t.id), str(t.deadline or ""), t.priority, t.kind, t.payer_id, t.claim_number or "",
                          t.owner, t.reference_number or "", t.status)
        console.print(table)


@tasks_app.command("show")
def tasks_show(task_id: int = typer.Argument(..., help="task id"), practice: PracticeOption = None) -> None:
    """One task with its evidence and history."""
    with session_scope(open_engine()) as session:
        data = task_as_dict(scoped_task(session, task_id, practice), session)
        record_cli(session, "view", "task", task_id)
        table = Table(show_header=False, title=f"Task {task_id}")
        for key in ("kind", "title", "payer", "claim", "payer_said", "action", "owner", "deadline",
                    "reference_number", "priority", "status", "next_check_date", "closed_reason"):
            table.add_row(key, str(data[key] if data[key] is not None else ""))
        if data["uploaded_document"]:
            doc = data["uploaded_document"]
            table.add_row("uploaded", f"{doc['original_file_name']} - confirmation {doc['confirmation_number']}")
        console.print(table)
        for entry in data["evidence"]:
            console.print("evidence:", ", ".join(f"{k}={v}" for k, v in entry.items()))
        rows = Table(title="History")
        for column in ("at", "actor", "action", "field", "old", "new", "note"):
            rows.add_column(column)
        for h in history(session, task_id):
            rows.add_row(f"{h.at:%Y-%m-%d %H:%M}", h.actor, h.action, h.field or "", h.old or "", h.new or "",
                         h.note or "")
        console.print(rows)


@tasks_app.command("assign")
def tasks_assign(task_id: int, owner: str) -> None:
    """Give a task to another owner."""
    with session_scope(open_engine()) as session:
        scoped_task(session, task_id)
        try:
            assign(session, task_id, owner, actor=current_actor())
        except LookupError as exc:
            _fail(str(exc))
        record_cli(session, "change", "task", task_id, f"assigned to {owner}")
    typer.echo(f"task {task_id} -> {owner}")


@tasks_app.command("close")
def tasks_close(task_id: int, note: str = typer.Option(..., "--note", help="why it is done"),
                cancel: bool = typer.Option(False, "--cancel", help="close as cancelled, not done")) -> None:
    """Close a task with a note."""
    with session_scope(open_engine()) as session:
        scoped_task(session, task_id)
        try:
            close(session, task_id, actor=current_actor(), note=note, status="cancelled" if cancel else "done")
        except (LookupError, PermissionError) as exc:
            _fail(str(exc))
        record_cli(session, "change", "task", task_id, "cancelled" if cancel else "done")
    typer.echo(f"task {task_id} closed")


@tasks_app.command("attach")
def tasks_attach(task_id: int, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Attach a records packet (PDF) to a records_request task."""
    with session_scope(open_engine()) as session:
        scoped_task(session, task_id)
        try:
            packet = attach_packet(session, task_id, file, actor=current_actor())
        except (LookupError, ValueError) as exc:
            _fail(str(exc))
        record_cli(session, "change", "task", task_id, f"packet {packet.packet_id} attached")
    typer.echo(f"packet {packet.packet_id} attached (draft); queue it with: tasks queue-upload {task_id}")


@tasks_app.command("queue-upload")
def tasks_queue_upload(task_id: int) -> None:
    """Queue the task's records packet for the next night's upload."""
    with session_scope(open_engine()) as session:
        scoped_task(session, task_id)
        try:
            packet = queue_upload(session, task_id, actor=current_actor())
        except LookupError as exc:
            _fail(str(exc))
        record_cli(session, "change", "task", task_id, f"packet {packet.packet_id} queued")
    typer.echo(f"packet {packet.packet_id} queued")
