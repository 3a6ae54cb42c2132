"""`payerbot edi`: import the clearinghouse's 277 / 277CA / 835 files into the worklist; list imported files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import col, select

from flows.edi_intake import import_file, inbox_folders
from workqueue.audit import record_cli
from workqueue.cli import current_actor, open_engine
from workqueue.db import session_scope
from workqueue.models import EdiFile

edi_app = typer.Typer(help="Clearinghouse files (ASC X12 277, 277CA, 835): import them, list what was imported.",
                      no_args_is_help=True)
console = Console()


@edi_app.command("import")
def edi_import(
    files: Annotated[list[Path], typer.Argument(help="X12 files (277 claim status, 277CA, 835 remittance)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per file")] = False,
) -> None:
    """Import each file in its own transaction: a bad file changes nothing; the same file twice is a no-op."""
    engine = open_engine()
    actor = current_actor()
    outcomes = [import_file(path, actor=actor, engine=engine) for path in files]
    with session_scope(engine) as session:
        for outcome in outcomes:
            if outcome.report and outcome.report.already_imported_at is None:
                record_cli(session, "edi_import", "edi_file", outcome.report.file_name,
                           detail=outcome.report.line())
    for outcome in outcomes:
        if as_json:
            typer.echo(json.dumps({"file": str(outcome.path), "error": outcome.error,
                                   **(outcome.report.as_dict() if outcome.report else {})}))
        elif outcome.error:
            typer.echo(outcome.line(), err=True)
        else:
            typer.echo(outcome.line())
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


@edi_app.command("files")
def edi_files(limit: Annotated[int, typer.Option(help="newest first")] = 50) -> None:
    """Files imported so far: when, by whom, claims matched and unmatched, portal visits saved."""
    with session_scope(open_engine()) as session:
        rows = session.exec(select(EdiFile).order_by(col(EdiFile.imported_at).desc()).limit(limit)).all()
        table = Table("imported (UTC)", "file", "kinds", "claims", "matched", "unmatched", "visits saved", "by")
        for r in rows:
            table.add_row(f"{r.imported_at:%Y-%m-%d %H:%M}", r.file_name, r.kinds, str(r.claims), str(r.matched),
                          str(r.unmatched), str(r.visits_saved), r.imported_by)
    console.print(table)
    console.print(f"inbox for the nightly flow: {inbox_folders()['inbox']}")
