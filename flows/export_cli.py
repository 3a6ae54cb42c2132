"""`payerbot export`: claim statuses and tasks as CSV (or JSON) files for the practice-management system."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workqueue.audit import record_cli
from workqueue.cli import PracticeOption, open_engine, scope
from workqueue.db import session_scope
from workqueue.export import CLAIM_COLUMNS, TASK_COLUMNS, claim_rows, task_rows, write_export

export_app = typer.Typer(help="Write claim statuses or tasks to a file for the practice-management system. "
                              "Without PAYERBOT_USER every practice's rows; with PAYERBOT_USER=<web user> only "
                              "that user's practices.", no_args_is_help=True)

Output = Annotated[Path, typer.Option("--output", "-o", help="The file to write (its folder must exist).")]
AsJson = Annotated[bool, typer.Option("--json", help="Write a JSON array instead of CSV.")]


def _write(output: Path, rows: list[dict], columns: tuple[str, ...], as_json: bool, what: str) -> None:
    try:
        count = write_export(output, rows, columns, as_json=as_json)
    except OSError as exc:
        typer.echo(f"Cannot write {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Wrote {count} {what} to {output}.")


@export_app.command("claims")
def export_claims(output: Output, as_json: AsJson = False, practice: PracticeOption = None) -> None:
    """Every claim's current status, paid amount, check/EFT number and its most urgent task's action and owner."""
    with session_scope(open_engine()) as session:
        rows = claim_rows(session, practices=scope(session, practice))
        record_cli(session, "export", "export", "claims.json" if as_json else "claims.csv", f"{len(rows)} row(s)")
    _write(output, rows, CLAIM_COLUMNS, as_json, "claims" if len(rows) != 1 else "claim")


@export_app.command("tasks")
def export_tasks(
    output: Output,
    as_json: AsJson = False,
    status: Annotated[str | None, typer.Option(
        help="open, in_progress, waiting_on_payer, done, cancelled or all; default: the active ones")] = None,
    practice: PracticeOption = None,
) -> None:
    """The worklist's tasks (the active ones by default) in deadline order."""
    with session_scope(open_engine()) as session:
        rows = task_rows(session, status=status, practices=scope(session, practice))
        record_cli(session, "export", "export", "tasks.json" if as_json else "tasks.csv", f"{len(rows)} row(s)")
    _write(output, rows, TASK_COLUMNS, as_json, "tasks" if len(rows) != 1 else "task")
