"""Exports for the practice-management system: claim statuses and tasks as spreadsheet-safe CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bots.files import write_private
from workqueue.models import Claim, Task
from workqueue.practices import Practices, visible
from workqueue.tasks import list_tasks

CLAIM_COLUMNS = ("claim_number", "payer", "payer_claim_number", "category", "payer_wording", "paid",
                 "check_eft_number", "payment_date", "next_action", "task_id", "task_owner", "deadline",
                 "reference_number")
TASK_COLUMNS = ("task_id", "kind", "claim_number", "payer", "account", "status", "priority", "owner", "deadline",
                "reference_number", "action", "title", "payer_said", "follow_up_date", "created_at", "updated_at")

# OWASP "CSV Injection": a cell starting with one of these is read by a spreadsheet as a formula (or, for tab and
# carriage return, may be trimmed until it is one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    """A value as JSON-ready data: dates ISO text, money an exact decimal string, the rest unchanged."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def claim_rows(session: Session, practices: Practices = None) -> list[dict]:
    """Every claim of `practices` (None: all) with its current status and most urgent active task, by claim number.

    "Most urgent" is the worklist's own order (`list_tasks`: deadline first, none last, then priority, then id).
    The reference number is that task's; a claim without one gives the payer's status reference instead.
    """
    urgent: dict[str, Task] = {}
    for task in list_tasks(session, practices=practices):  # active tasks, most urgent first
        if task.claim_number and task.claim_number not in urgent:
            urgent[task.claim_number] = task
    rows = []
    for claim in session.exec(select(Claim).where(visible(Claim.practice, practices))
                              .order_by(col(Claim.claim_number))).all():
        task = urgent.get(claim.claim_number)
        rows.append({
            "claim_number": claim.claim_number, "practice": claim.practice, "payer": claim.payer_id,
            "payer_claim_number": claim.payer_claim_number, "category": claim.status_category,
            "payer_wording": claim.raw_status, "paid": _plain(claim.paid), "check_eft_number": claim.check_number,
            "payment_date": _plain(claim.payment_date),
            "next_action": (task.action or task.title) if task else None,
            "task_id": task.id if task else None, "task_owner": task.owner if task else None,
            "deadline": _plain(task.deadline) if task else None,
            "reference_number": (task.reference_number if task and task.reference_number
                                 else claim.status_reference),
        })
    return rows


def task_rows(session: Session, status: str | None = None, practices: Practices = None) -> list[dict]:
    """Tasks in worklist order (deadline, priority, id); status None = the active ones, 'all' = every one.

    Only tasks of `practices` (None: every practice).
    """
    return [{
        "task_id": t.id, "kind": t.kind, "claim_number": t.claim_number, "practice": t.practice, "payer": t.payer_id,
        "account": t.account,
        "status": t.status, "priority": t.priority, "owner": t.owner, "deadline": _plain(t.deadline),
        "reference_number": t.reference_number, "action": t.action, "title": t.title, "payer_said": t.payer_said,
        "follow_up_date": _plain(t.follow_up_date), "created_at": _plain(t.created_at),
        "updated_at": _plain(t.updated_at),
    } for t in list_tasks(session, status=status, practices=practices)]


def csv_safe(value: Any) -> str:
    """A cell's text with OWASP's rule applied: one starting with = + - @ tab or CR gets a leading single quote.

    The rule covers every cell, numbers included: a negative amount comes out as "'-12.00", which a spreadsheet
    shows as the text -12.00. Telling a harmless "-12.00" from "-1+cmd|..." by parsing is exactly the kind of
    cleverness injection payloads are built to slip past, so no cell is exempt.
    """
    text = "" if value is None else str(_plain(value))
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def to_csv(rows: list[dict], columns: tuple[str, ...]) -> bytes:
    """The rows as CSV bytes: UTF-8 with a BOM (Excel then reads it as UTF-8), one header row, every cell quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_safe(row.get(column)) for column in columns])
    return buffer.getvalue().encode("utf-8-sig")


def to_json(rows: list[dict]) -> bytes:
    """The rows as a JSON array (values unescaped: JSON is read by programs, not spreadsheets)."""
    return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_export(path: Path | str, rows: list[dict], columns: tuple[str, ...], *, as_json: bool = False) -> int:
    """Write the rows to `path` owner-only and atomically (temp file, then rename); return how many rows.

    The output folder must already exist (a mistyped folder is an error, never a new folder of patient data);
    FileNotFoundError or NotADirectoryError otherwise. A failed write leaves neither a partial file nor a temp.
    """
    path = Path(path)
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(f"the output folder {parent} does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"the output folder {parent} is not a folder")
    write_private(path, to_json(rows) if as_json else to_csv(rows, columns))
    return len(rows)
