"""The worklist: queries for billers and the actions they take (assign, status, close, attach, queue upload)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from bots.evidence import to_stored
from bots.files import write_private
from bots.findings import utc_now
from workqueue.accounts import LOGIN_PROBLEM_KINDS
from workqueue.models import ACTIVE_STATUSES, TASK_STATUSES, Claim, PortalAccount, RecordsPacket, Task, TaskHistory
from workqueue.packets import set_packet_status
from workqueue.paths import packets_dir
from workqueue.practices import Practices, visible
from workqueue.taskstore import close_task, log, set_field

_PRIORITY_ORDER = case({"high": 0, "normal": 1, "low": 2}, value=Task.priority, else_=3)


def list_tasks(session: Session, owner: str | None = None, kind: str | None = None, payer: str | None = None,
               status: str | None = None, limit: int | None = None, *, practices: Practices = None) -> list[Task]:
    """Tasks ordered by deadline (none last), then priority. status None = active; 'all' = every status.

    `practices` limits them to those practices' tasks (None: every practice).
    """
    query = select(Task)
    if practices is not None:
        query = query.where(visible(Task.practice, practices))
    if owner:
        query = query.where(Task.owner == owner)
    if kind:
        query = query.where(Task.kind == kind)
    if payer:
        query = query.where(Task.payer_id == payer)
    if status is None:
        query = query.where(col(Task.status).in_(ACTIVE_STATUSES))
    elif status != "all":
        query = query.where(Task.status == status)
    # Two queries rather than ORDER BY "deadline IS NULL": that expression keeps the database from walking
    # the (owner, status, deadline) index in order, and a 50-row page then sorts every matching task
    # (benchmarks/bench_worklist.py measured ~23x slower at 100k tasks).
    dated = query.where(col(Task.deadline).is_not(None)).order_by(col(Task.deadline), _PRIORITY_ORDER,
                                                                  col(Task.id))
    tasks = list(session.exec(dated.limit(limit) if limit else dated).all())
    if limit is None or len(tasks) < limit:
        undated = query.where(col(Task.deadline).is_(None)).order_by(_PRIORITY_ORDER, col(Task.id))
        tasks += session.exec(undated.limit(limit - len(tasks)) if limit else undated).all()
    return tasks


def get_task(session: Session, task_id: int) -> Task:
    """The task, or LookupError."""
    task = session.get(Task, task_id)
    if task is None:
        raise LookupError(f"no task {task_id}")
    return task


def packets_of(session: Session, task_id: int) -> list[RecordsPacket]:
    """A task's records packets, newest first."""
    return list(session.exec(select(RecordsPacket).where(RecordsPacket.task_id == task_id)
                             .order_by(col(RecordsPacket.created_at).desc())).all())


def history(session: Session, task_id: int) -> list[TaskHistory]:
    """A task's history, oldest first."""
    return list(session.exec(select(TaskHistory).where(TaskHistory.task_id == task_id)
                             .order_by(col(TaskHistory.at), col(TaskHistory.id))).all())


def task_as_dict(task: Task, session: Session) -> dict:
    """A task as JSON-ready data: the seven answers a biller needs, plus the evidence."""
    packets = packets_of(session, task.id)
    uploaded = next((p for p in packets if p.status == "uploaded"), None)
    claim = session.get(Claim, task.claim_number) if task.claim_number else None
    next_check = task.follow_up_date or (claim.next_check_at.date() if claim and claim.next_check_at else None)
    return {
        "id": task.id, "kind": task.kind, "claim": task.claim_number, "payer": task.payer_id,
        "account": task.account, "owner": task.owner,
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "reference_number": task.reference_number, "status": task.status, "priority": task.priority,
        "title": task.title, "payer_said": task.payer_said, "action": task.action, "evidence": task.evidence,
        "uploaded_document": {
            "packet_id": uploaded.packet_id, "confirmation_number": uploaded.confirmation_number,
            "file": uploaded.stored_path, "original_file_name": uploaded.original_file_name,
            "uploaded_at": uploaded.uploaded_at.isoformat() if uploaded.uploaded_at else None,
        } if uploaded else None,
        "packets": [{"packet_id": p.packet_id, "status": p.status, "attempts": p.attempts} for p in packets],
        "next_check_date": next_check.isoformat() if next_check else None,
        "follow_up_date": task.follow_up_date.isoformat() if task.follow_up_date else None,
        "snoozed_until": task.snoozed_until.isoformat() if task.snoozed_until else None,
        "closed_reason": task.closed_reason,
        "created_at": task.created_at.isoformat(), "updated_at": task.updated_at.isoformat(),
    }


def assign(session: Session, task_id: int, owner: str, *, actor: str = "user") -> Task:
    """Give the task to another owner (a person or a team)."""
    task = get_task(session, task_id)
    set_field(session, task, "owner", owner, actor=actor, note="reassigned")
    return task


def set_status(session: Session, task_id: int, status: str, *, actor: str = "user", note: str | None = None) -> Task:
    """Move a task to open, in_progress or waiting_on_payer (use `close` for done/cancelled)."""
    if status not in TASK_STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(TASK_STATUSES)}")
    if status in ("done", "cancelled"):
        return close(session, task_id, actor=actor, note=note or status, status=status)
    task = get_task(session, task_id)
    if task.status not in ACTIVE_STATUSES:
        task.closed_reason = task.closed_by = None
    set_field(session, task, "status", status, actor=actor, note=note)
    return task


def close(session: Session, task_id: int, *, actor: str = "user", note: str | None = None,
          status: str = "done") -> Task:
    """Close a task (done or cancelled) with a note; the bot will not reopen what a person closed.

    A login-problem task whose account is still blocked is closed by clearing the block (an operator's
    `payerbot accounts clear`), never on its own: the block is what keeps the bot from locking the account.
    """
    task = get_task(session, task_id)
    if task.kind in LOGIN_PROBLEM_KINDS and task.account:
        row = session.get(PortalAccount, (task.payer_id, task.account))
        if row is not None and row.state == "blocked":
            raise PermissionError(f"task {task_id} keeps {task.payer_id}/{task.account} blocked: an operator clears "
                                  f"it with: payerbot accounts clear {task.payer_id}/{task.account} --note \"...\"")
    close_task(session, task, note or f"closed by {actor}", actor=actor, status=status)
    return task


def snooze(session: Session, task_id: int, until: date | None, *, actor: str = "user",
           today: date | None = None) -> Task:
    """Hide an active task from the worklist until `until` (None wakes it now); ValueError for a past day."""
    task = get_task(session, task_id)
    if until is not None:
        if until <= (today or date.today()):
            raise ValueError("snooze until a day after today")
        if task.status not in ACTIVE_STATUSES:
            raise ValueError(f"task {task_id} is closed; only active tasks can be snoozed")
    set_field(session, task, "snoozed_until", until, actor=actor,
              note=f"snoozed until {until.isoformat()}" if until else "back in the worklist")
    return task


def add_note(session: Session, task_id: int, note: str, *, actor: str = "user") -> Task:
    """A note in the task's history; the status and everything else stay as they are."""
    text = note.strip()
    if not text:
        raise ValueError("the note is empty")
    task = get_task(session, task_id)
    log(session, task, "note", actor=actor, note=text[:2000])
    task.updated_at = utc_now()
    session.add(task)
    return task


def attach_packet(session: Session, task_id: int, file: Path, *, actor: str = "user") -> RecordsPacket:
    """Attach a PDF records packet to a records_request task (a draft until queued)."""
    task = get_task(session, task_id)
    if task.kind != "records_request":
        raise ValueError(f"task {task_id} is a {task.kind} task; records packets go on records_request tasks")
    file = Path(file)
    data = file.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise ValueError(f"{file.name} is not a PDF file")
    sha = hashlib.sha256(data).hexdigest()
    packet_id = f"PKT-{task_id}-{sha[:10]}"
    existing = session.get(RecordsPacket, packet_id)
    if existing is not None:
        return existing
    target = packets_dir() / f"{sha}.pdf"
    if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != sha:
        write_private(target, data)  # 0600 from the start, atomic: never a half-written packet
    packet = RecordsPacket(packet_id=packet_id, task_id=task_id, claim_number=task.claim_number,
                           payer_id=task.payer_id, practice=task.practice, stored_path=to_stored(target),
                           original_file_name=file.name, sha256=sha)
    session.add(packet)
    session.flush()
    log(session, task, "packet_attached", actor=actor, field="packet", new=packet_id,
        note=f"{file.name} ({len(data)} bytes)")
    return packet


def queue_upload(session: Session, task_id: int, *, actor: str = "user") -> RecordsPacket:
    """Queue the task's newest draft (or failed) packet for the next night's upload.

    A packet that already went to the portal once may be there even though it failed here: it is queued
    as 'unconfirmed', so the night reads the portal's submission history before anything is sent again.
    """
    task = get_task(session, task_id)
    packets = packets_of(session, task_id)
    if any(p.status == "unconfirmed" for p in packets):
        raise LookupError(f"task {task_id}'s packet is already waiting to be reconciled with the portal tonight")
    packet = next((p for p in packets if p.status in ("draft", "failed")), None)
    if packet is None:
        raise LookupError(f"task {task_id} has no draft or failed records packet to queue")
    old = packet.status
    reached_portal = old == "failed" and (packet.attempts > 0 or packet.last_problem_at is not None
                                          or packet.last_error is not None)
    new = "unconfirmed" if reached_portal else "queued"
    packet.attempts = 0 if old == "failed" else packet.attempts
    set_packet_status(packet, new, session)
    note = "the next night checks the portal's submission history first, then uploads only if it is not there" \
        if reached_portal else "uploads with the next night's run"
    log(session, task, "upload_queued", actor=actor, field="packet", old=f"{packet.packet_id} {old}",
        new=f"{packet.packet_id} {new}", note=note)
    if task.status == "open":
        set_field(session, task, "status", "in_progress", actor=actor, note="records packet queued")
    return packet


def worklist_summary(session: Session) -> list[tuple[str, str, int]]:
    """(kind, owner, count) of active tasks."""
    rows = session.exec(select(Task.kind, Task.owner, func.count()).where(col(Task.status).in_(ACTIVE_STATUSES))
                        .group_by(Task.kind, Task.owner).order_by(Task.kind, Task.owner)).all()
    return [(kind, owner, count) for kind, owner, count in rows]
