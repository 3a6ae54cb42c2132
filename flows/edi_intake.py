"""Clearinghouse files into the work queue: one file per transaction, and the inbox the night empties first."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from bots.edi import EdiError, read_edi
from bots.evidence import payerbot_home
from workqueue.db import get_engine, session_scope
from workqueue.edi_import import EdiImportReport, import_parsed_file

INBOX_FOLDERS = ("inbox", "processed", "rejected")


@dataclass
class FileOutcome:
    """One file's fate: its report, or the reason it was refused (the database is then unchanged)."""

    path: Path
    report: EdiImportReport | None = None
    error: str | None = None
    #: the parser's non-fatal remarks (an unknown code value, say): segment and element, never a value
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for people: what the file did, or why it changed nothing."""
        if not self.report:
            return f"{self.error} (nothing imported)"
        if not self.warnings or self.report.already_imported_at is not None:
            return self.report.line()
        return f"{self.report.line()}; {len(self.warnings)} warning(s), first: {self.warnings[0]}"


def import_file(path: Path, *, actor: str = "bot", engine=None) -> FileOutcome:
    """Read and import one file in its own transaction: all of it, or (on any error) none of it."""
    try:
        parsed = read_edi(path)
    except EdiError as error:
        return FileOutcome(path, error=str(error))
    except OSError as error:
        return FileOutcome(path, error=f"{path.name}: cannot be read ({error.strerror or type(error).__name__})")
    engine = engine or get_engine()
    try:
        with session_scope(engine) as session:
            report = import_parsed_file(session, parsed, actor=actor)
    except IntegrityError:
        # Another process imported the same bytes a moment ago (edi_file.sha256 is unique): nothing to add.
        with session_scope(engine) as session:
            report = import_parsed_file(session, parsed, actor=actor)
    return FileOutcome(path, report=report, warnings=list(parsed.warnings))


def inbox_folders(home: Path | None = None) -> dict[str, Path]:
    """$PAYERBOT_HOME/edi/{inbox,processed,rejected}, created owner-only."""
    root = (home or payerbot_home()) / "edi"
    folders = {name: root / name for name in INBOX_FOLDERS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    return folders


def _move(path: Path, folder: Path) -> Path:
    """Move a file into a folder without overwriting an earlier one of the same name; owner-only."""
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    os.chmod(target, 0o600)
    return target


def import_inbox(home: Path | None = None) -> list[FileOutcome]:
    """Import every file in the inbox (oldest first); imported ones go to processed/, refused ones to rejected/.

    A refused file gets `<name>.reason.txt` beside it. The reason names the file, the segment and the element,
    never a value from it (values can be patient data).
    """
    folders = inbox_folders(home)
    engine = get_engine()  # brought to the newest schema by the night's open_run, which runs first
    files = sorted((p for p in folders["inbox"].iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: (p.stat().st_mtime, p.name))
    outcomes = []
    for path in files:
        outcome = import_file(path, engine=engine)
        try:
            if outcome.error:
                moved = _move(path, folders["rejected"])
                reason = moved.with_name(moved.name + ".reason.txt")
                reason.write_text(outcome.error + "\n")
                os.chmod(reason, 0o600)
            else:
                moved = _move(path, folders["processed"])
        except FileNotFoundError:
            continue  # another night moved it first; the import itself was a no-op or theirs
        outcome.path = moved
        outcomes.append(outcome)
    return outcomes


def inbox_summary(outcomes: list[FileOutcome]) -> dict[str, int]:
    """Counts for the night's summary: files imported, already known, rejected; claims; visits saved."""
    reports = [o.report for o in outcomes if o.report]
    return {"edi_files_imported": sum(r.already_imported_at is None for r in reports),
            "edi_files_already_imported": sum(r.already_imported_at is not None for r in reports),
            "edi_files_rejected": sum(o.error is not None for o in outcomes),
            "edi_claims": sum(r.claims for r in reports),
            "edi_unmatched": sum(r.unmatched for r in reports)}
