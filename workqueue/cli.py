"""Typer sub-apps the `payerbot` command mounts: `claims import` and the `tasks` worklist commands."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workqueue.claims import claim_as_dict, list_claims
from workqueue.db import get_engine, init_db, session_scope
from workqueue.inventory import InventoryError, import_claims
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

claims_app = typer.Typer(help="The practice's claims inventory.", no_args_is_help=True)
tasks_app = typer.Typer(help="The worklist: tasks the bots raised for billers and operators.",
                        no_args_is_help=True)
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
    """Who is at the terminal: the OS login name, recorded as the actor of CLI changes."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "user"


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
) -> None:
    """Where each claim stands: status category, the payer's wording, paid, patient share, last and next check."""
    with session_scope(open_engine()) as session:
        rows = [claim_as_dict(c) for c in list_claims(session, payer_id=payer, category=status)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("claim", "payer", "status", "payer said", "paid", "patient", "last checked (UTC)", "next check")
    for row in rows:
        table.add_row(row["claim_number"], row["payer_id"], row["status_category"] or "", row["raw_status"] or "",
                      row["paid"] or "", row["patient_responsibility"] or "", (row["last_checked_at"] or "")[:16],
                      (row["next_check_at"] or "")[:16])
    console.print(table)


@tasks_app.command("list")
def tasks_list(
    owner: str | None = typer.Option(None, help="owner (team or person)"),
    kind: str | None = typer.Option(None, help="task kind, e.g. denial_review"),
    payer: str | None = typer.Option(None, help="payer id"),
    status: str | None = typer.Option(None, help="open, in_progress, waiting_on_payer, done, cancelled or all; "
                                                 "default: the active ones"),
    limit: int | None = typer.Option(None, help="at most this many"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON array"),
) -> None:
    """List tasks by deadline."""
    with session_scope(open_engine()) as session:
        tasks = list_tasks(session, owner=owner, kind=kind, payer=payer, status=status, limit=limit)
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
def tasks_show(task_id: int = typer.Argument(..., help="task id")) -> None:
    """One task with its evidence and history."""
    with session_scope(open_engine()) as session:
        try:
            data = task_as_dict(get_task(session, task_id), session)
        except LookupError as exc:
            _fail(str(exc))
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
        try:
            assign(session, task_id, owner, actor=current_actor())
        except LookupError as exc:
            _fail(str(exc))
    typer.echo(f"task {task_id} -> {owner}")


@tasks_app.command("close")
def tasks_close(task_id: int, note: str = typer.Option(..., "--note", help="why it is done"),
                cancel: bool = typer.Option(False, "--cancel", help="close as cancelled, not done")) -> None:
    """Close a task with a note."""
    with session_scope(open_engine()) as session:
        try:
            close(session, task_id, actor=current_actor(), note=note, status="cancelled" if cancel else "done")
        except (LookupError, PermissionError) as exc:
            _fail(str(exc))
    typer.echo(f"task {task_id} closed")


@tasks_app.command("attach")
def tasks_attach(task_id: int, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Attach a records packet (PDF) to a records_request task."""
    with session_scope(open_engine()) as session:
        try:
            packet = attach_packet(session, task_id, file, actor=current_actor())
        except (LookupError, ValueError) as exc:
            _fail(str(exc))
    typer.echo(f"packet {packet.packet_id} attached (draft); queue it with: tasks queue-upload {task_id}")


@tasks_app.command("queue-upload")
def tasks_queue_upload(task_id: int) -> None:
    """Queue the task's records packet for the next night's upload."""
    with session_scope(open_engine()) as session:
        try:
            packet = queue_upload(session, task_id, actor=current_actor())
        except LookupError as exc:
            _fail(str(exc))
    typer.echo(f"packet {packet.packet_id} queued")
