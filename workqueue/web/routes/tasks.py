"""The task page and what a biller does on it: take, assign, status, snooze, note, attach and queue a packet."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from bots.status_map import claim_status_categories
from workqueue.accounts import LOGIN_PROBLEM_KINDS
from workqueue.db import session_scope
from workqueue.models import ACTIVE_STATUSES, TASK_STATUSES, Claim, RecordsPacket, StatusFinding, Task
from workqueue.practices import may_see
from workqueue.tasks import (
    add_note,
    assign,
    attach_packet,
    history,
    packets_of,
    queue_upload,
    set_status,
    snooze,
    task_as_dict,
)
from workqueue.web.files import file_response, servable
from workqueue.web.formatting import EVIDENCE_FILES, clean_name, due, evidence_rows, label, safe_file_name
from workqueue.web.queries import distinct_values
from workqueue.web.render import audit_in, audit_now, error_page, redirect_with, render, root
from workqueue.web.security import Viewer, viewer_of
from workqueue.web.state import web

router = APIRouter()
MAX_PACKET_BYTES = 100 * 1024 * 1024  # records packets are scans: large, but not unbounded
STATUS_CHOICES = {"open": "Open", "in_progress": "In progress", "waiting_on_payer": "Waiting on payer",
                  "done": "Done", "cancelled": "Cancelled"}


def may_close(viewer: Viewer, task: Task) -> bool:
    """Login-problem tasks guard a portal account: only operators close them."""
    return task.kind not in LOGIN_PROBLEM_KINDS or viewer.can("operator")


def visible_task(session: Session, task_id: int, viewer: Viewer) -> Task | None:
    """The task if it exists in one of the viewer's practices; another practice's task is as missing (a 404)."""
    task = session.get(Task, task_id)
    return task if task is not None and may_see(task.practice, viewer.practices) else None


def claim_timeline(session: Session, claim_number: str | None) -> list[dict]:
    """The claim's findings across nights, oldest first, with what each category means."""
    if not claim_number:
        return []
    categories = claim_status_categories()
    findings = session.exec(select(StatusFinding).where(StatusFinding.claim_number == claim_number)
                            .order_by(col(StatusFinding.observed_at), col(StatusFinding.id))).all()
    return [{"observed_at": f.observed_at, "category": f.status_category,
             "meaning": categories.get(f.status_category or "", ("", ""))[1], "raw": f.raw_status,
             "reference": (f.finding or {}).get("reference_number"), "paid": (f.finding or {}).get("paid"),
             "run_id": f.run_id} for f in findings]


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: int) -> HTMLResponse:
    """Everything about one task: the seven answers, evidence, the claim's timeline, history, actions."""
    state = web(request)
    viewer = viewer_of(request)
    day = state.today()
    with session_scope(state.engine) as session:
        task = visible_task(session, task_id, viewer)
        if task is None:
            return error_page(request, 404, "No such task", f"There is no task {task_id}.")
        data = task_as_dict(task, session)
        claim = session.get(Claim, task.claim_number) if task.claim_number else None
        timeline = claim_timeline(session, task.claim_number)
        rows = history(session, task_id)
        packets = packets_of(session, task_id)
        related = list(session.exec(select(Task).where(Task.claim_number == task.claim_number, Task.id != task.id)
                                    .order_by(col(Task.id))).all()) if task.claim_number else []
        owners = distinct_values(session, Task.owner, viewer)
        audit_in(session, viewer, action="view", object_type="task", object_id=task_id)
    base = f"{root(request)}/tasks/{task_id}"
    evidence = evidence_rows(task.evidence or [], state.home, f"{base}/evidence")
    packet_rows = [{"packet": p, "href": f"{base}/packets/{p.packet_id}" if servable(p.stored_path, state.home)
                    else None} for p in packets]
    categories = claim_status_categories()
    current = categories.get(claim.status_category or "", ("", ""))[1] if claim else ""
    return render(request, "task.html", title=f"Task {task_id}: {task.title}", task=task, data=data,
                  due=due(task.deadline, task.status, day), claim=claim, claim_meaning=current,
                  status_history=timeline, history=rows, packets=packet_rows, evidence=evidence, related=related,
                  owners=owners, statuses=STATUS_CHOICES, today=day,
                  tomorrow=(day + timedelta(days=1)).isoformat(), may_close=may_close(viewer, task),
                  snoozed=task.snoozed_until is not None and task.snoozed_until > day,
                  can_queue=any(p.status in ("draft", "failed") for p in packets))


@router.get("/tasks/{task_id}/evidence/{index}/{which}")
def evidence_file(request: Request, task_id: int, index: int, which: str) -> Response:
    """A screenshot or letter PDF from the task's evidence (only from the servable folders)."""
    state = web(request)
    key = EVIDENCE_FILES.get(which, ("", ""))[0]
    with session_scope(state.engine) as session:
        task = visible_task(session, task_id, viewer_of(request))
        entries = (task.evidence or []) if task else []
    entry = entries[index] if key and 0 <= index < len(entries) and isinstance(entries[index], dict) else {}
    path = servable(entry.get(key), state.home)
    if path is not None:
        audit_now(request, "view", "letter" if which == "document" else "screenshot", task_id,
                  detail=f"evidence {index} of task {task_id}")
    return file_response(path)


@router.get("/tasks/{task_id}/packets/{packet_id}")
def packet_file(request: Request, task_id: int, packet_id: str) -> Response:
    """A records packet attached to this task."""
    state = web(request)
    with session_scope(state.engine) as session:
        packet = session.get(RecordsPacket, packet_id)
    mine = packet is not None and packet.task_id == task_id and may_see(packet.practice, viewer_of(request).practices)
    path = servable(packet.stored_path, state.home) if mine else None
    if path is not None:
        audit_now(request, "view", "packet", packet_id, detail=f"task {task_id}")
    return file_response(path, download_name=packet.original_file_name if path and packet else None)


# -- actions ----------------------------------------------------------------------------------------------

Change = Callable[[Session, Task, Viewer], tuple[str, str]]


async def _act(request: Request, task_id: int, change: Change, form: FormData | None = None) -> Response:
    """Run one change on a task in one transaction, audited under the signed-in user; back to the task page."""
    viewer = viewer_of(request)
    state = web(request)

    def run() -> tuple[str, str] | None:
        with session_scope(state.engine) as session:
            task = visible_task(session, task_id, viewer)
            if task is None:
                return None
            kind, text = change(session, task, viewer)
            audit_in(session, viewer, "change" if kind == "ok" else "refused", "task", task_id,
                     detail=text)
            return kind, text

    outcome = await run_in_threadpool(run)
    if outcome is None:
        return error_page(request, 404, "No such task", f"There is no task {task_id}.")
    return redirect_with(request, f"/tasks/{task_id}", *outcome)


def take_change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
    """Assign the task to the signed-in user."""
    if task.owner == viewer.name:
        return "ok", f"Task {task.id} is already yours."
    old = task.owner
    assign(session, task.id, viewer.name, actor=viewer.name)
    return "ok", f"Task {task.id} taken: {old} → {viewer.name}."


def assign_change(owner: str) -> Change:
    """Give the task to another owner (a person or a team)."""
    def change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
        if not owner:
            return "error", "Enter the new owner (a person or a team)."
        if task.owner == owner:
            return "ok", f"Task {task.id} is already owned by {owner}."
        old = task.owner
        assign(session, task.id, owner, actor=viewer.name)
        return "ok", f"Task {task.id} reassigned from {old} to {owner}."
    return change


def status_change(status: str, note: str | None) -> Change:
    """Move the task to a status; closing needs a note, and login problems need an operator."""
    def change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
        if status not in TASK_STATUSES:
            return "error", "Choose a status from the list."
        if status in ("done", "cancelled") and not note:
            return "error", f"Add a note saying why the task is {STATUS_CHOICES[status].lower()}."
        old = task.status
        if old == status:
            return "ok", f"Task {task.id} is already {STATUS_CHOICES[status].lower()}."
        if status in ("done", "cancelled") and not may_close(viewer, task):
            return "error", (f"Task {task.id} is a {label(task.kind)} task: it guards the portal account, so only an "
                             "operator closes it.")
        if old not in ACTIVE_STATUSES and status not in ACTIVE_STATUSES:
            return "error", (f"Task {task.id} is already closed ({STATUS_CHOICES[old].lower()}); reopen it first to "
                             "close it another way.")
        try:
            set_status(session, task.id, status, actor=viewer.name, note=note)
        except PermissionError as exc:
            return "error", str(exc)
        return "ok", f"Task {task.id}: {STATUS_CHOICES[old].lower()} → {STATUS_CHOICES[status].lower()}."
    return change


def snooze_change(until_text: str, today: date) -> Change:
    """Snooze until a day (empty: wake it up now)."""
    def change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
        try:
            until = date.fromisoformat(until_text) if until_text else None
        except ValueError:
            return "error", "Enter the day to snooze until as a date."
        try:
            snooze(session, task.id, until, actor=viewer.name, today=today)
        except ValueError as exc:
            return "error", f"Not snoozed: {exc}."
        if until is None:
            return "ok", f"Task {task.id} is back in the worklist."
        return "ok", f"Task {task.id} snoozed until {until:%m/%d/%Y}: it drops out of the worklist until then."
    return change


def note_change(note: str) -> Change:
    """A note in the history, nothing else changed."""
    def change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
        if not note.strip():
            return "error", "Write the note first."
        add_note(session, task.id, note, actor=viewer.name)
        return "ok", f"Note added to task {task.id}."
    return change


def queue_change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
    """Queue the newest draft or failed packet for tonight (reconciled with the portal first if it went before)."""
    try:
        packet = queue_upload(session, task.id, actor=viewer.name)
    except LookupError as exc:
        if "reconciled" in str(exc):
            return "error", "The packet is already waiting: tonight's run checks the portal for it first."
        return "error", "There is no draft or failed records packet to queue: attach a PDF first."
    if packet.status == "unconfirmed":
        return "ok", (f"Packet {packet.packet_id} queued: tonight's run first checks the portal's submission "
                      "history and uploads it only if the portal does not have it.")
    return "ok", f"Packet {packet.packet_id} queued: the bots upload it with tonight's run."


async def _fields(request: Request, max_fields: int = 10) -> FormData:
    return await request.form(max_files=0, max_fields=max_fields)


@router.post("/tasks/{task_id}/take")
async def take_action(request: Request, task_id: int) -> Response:
    """Assign to me."""
    return await _act(request, task_id, take_change)


@router.post("/tasks/{task_id}/assign")
async def assign_action(request: Request, task_id: int) -> Response:
    """Assign to someone else."""
    form = await _fields(request)
    return await _act(request, task_id, assign_change(clean_name(str(form.get("owner", "")))))


@router.post("/tasks/{task_id}/status")
async def status_action(request: Request, task_id: int) -> Response:
    """Change the status (a note is needed to close)."""
    form = await _fields(request)
    note = str(form.get("note", "")).strip()[:500] or None
    return await _act(request, task_id, status_change(str(form.get("status", "")), note))


@router.post("/tasks/{task_id}/snooze")
async def snooze_action(request: Request, task_id: int) -> Response:
    """Snooze until a day, or wake up now."""
    form = await _fields(request)
    until = "" if form.get("wake") else str(form.get("until", "")).strip()
    if not until and not form.get("wake"):
        return redirect_with(request, f"/tasks/{task_id}", "error", "Choose the day to snooze until.")
    return await _act(request, task_id, snooze_change(until, web(request).today()))


@router.post("/tasks/{task_id}/notes")
async def note_action(request: Request, task_id: int) -> Response:
    """Add a note without changing anything else."""
    form = await _fields(request)
    return await _act(request, task_id, note_change(str(form.get("note", ""))[:2000]))


@router.post("/tasks/{task_id}/queue")
async def queue_action(request: Request, task_id: int) -> Response:
    """Queue the packet for tonight's upload."""
    return await _act(request, task_id, queue_change)


@router.post("/tasks/{task_id}/packets")
async def attach_action(request: Request, task_id: int) -> Response:
    """Attach a PDF records packet (checked on its bytes) as a draft."""
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("packet")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return redirect_with(request, f"/tasks/{task_id}", "error",
                             "Choose the records packet (a PDF file) to attach.")
    name = safe_file_name(upload.filename)
    data = await upload.read(MAX_PACKET_BYTES + 1)
    await upload.close()
    if len(data) > MAX_PACKET_BYTES:
        return redirect_with(request, f"/tasks/{task_id}", "error",
                             f"{name} is larger than {MAX_PACKET_BYTES // (1024 * 1024)} MB; split the packet.")
    if not data.startswith(b"%PDF-"):
        # Checked on the bytes, not the name or the browser's content type: both are easy to get wrong.
        return redirect_with(request, f"/tasks/{task_id}", "error",
                             f"{name} is not a PDF file, so it was not attached. Records packets must be PDF files.")

    def change(session: Session, task: Task, viewer: Viewer) -> tuple[str, str]:
        if task.kind != "records_request":
            return "error", f"Task {task.id} is a {label(task.kind)} task; records packets go on records request tasks."
        known = {p.packet_id: p.status for p in packets_of(session, task.id)}
        with tempfile.TemporaryDirectory(prefix="payerbot-upload-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            try:
                packet = attach_packet(session, task.id, path, actor=viewer.name)
            except ValueError as exc:
                return "error", str(exc)
        if packet.packet_id in known:
            return "ok", f"{name} is already attached as packet {packet.packet_id} ({label(known[packet.packet_id])})."
        return "ok", (f"{name} attached as draft packet {packet.packet_id}. Queue it for tonight's upload when it is "
                      "complete.")

    return await _act(request, task_id, change)
