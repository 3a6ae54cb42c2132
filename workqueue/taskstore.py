"""Create, refresh, reopen and close tasks by dedupe key; every change leaves a TaskHistory row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from bots.findings import utc_now
from workqueue.models import ACTIVE_STATUSES, Task, TaskHistory
from workqueue.practice_rows import practice_key, task_practice
from workqueue.specs import Resolution, TaskSpec

# Evidence entries that differ only in these keys are the same evidence seen again (a later night).
_VOLATILE = frozenset({"observed_at", "screenshot_path", "screenshot_sha256", "url"})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def log(session: Session, task: Task, action: str, *, actor: str = "bot", field: str | None = None,
        old: Any = None, new: Any = None, note: str | None = None) -> None:
    """Append one history row for a task."""
    session.add(TaskHistory(task_id=task.id, actor=actor, action=action, field=field, old=_text(old),
                            new=_text(new), note=note))


def set_field(session: Session, task: Task, field: str, value: Any, *, actor: str = "bot",
              note: str | None = None) -> bool:
    """Change one task field if it differs; record the change. Returns whether it changed."""
    old = getattr(task, field)
    if old == value:
        return False
    setattr(task, field, value)
    task.updated_at = utc_now()
    log(session, task, "update", actor=actor, field=field, old=old, new=value, note=note)
    session.add(task)
    return True


def find(session: Session, dedupe_key: str) -> Task | None:
    """The task with this dedupe key, whatever its status."""
    return session.exec(select(Task).where(Task.dedupe_key == dedupe_key)).first()


def _identity(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in _VOLATILE}


def add_evidence(session: Session, task: Task, entries: list[dict], *, actor: str = "bot",
                 note: str | None = None) -> bool:
    """Append evidence entries not already on the task (same evidence seen again is not repeated)."""
    known = [_identity(e) for e in task.evidence or []]
    new = [e for e in entries if _identity(e) not in known]
    if not new:
        return False
    task.evidence = [*(task.evidence or []), *new]  # a new list: JSON columns track assignment only
    task.updated_at = utc_now()
    for entry in new:
        log(session, task, "evidence_added", actor=actor, field="evidence", new=entry.get("source"),
            note=note or ", ".join(f"{k}={v}" for k, v in _identity(entry).items()))
    session.add(task)
    return True


def apply_spec(session: Session, spec: TaskSpec) -> str:
    """Make the wanted task exist: 'created', 'updated', 'unchanged' or 'ignored' (a person closed it).

    A new task takes its claim's practice, else its portal account's (workqueue.practice_rows.task_practice).
    """
    practice = task_practice(session, spec.claim_number, spec.payer_id, spec.account)
    key = practice_key(spec.dedupe_key, spec.kind, spec.claim_number, practice)
    task = find(session, key)
    if task is None:
        task = Task(kind=spec.kind, claim_number=spec.claim_number, payer_id=spec.payer_id, account=spec.account,
                    title=spec.title, payer_said=spec.payer_said, action=spec.action, owner=spec.owner,
                    deadline=spec.deadline, reference_number=spec.reference_number, priority=spec.priority,
                    evidence=list(spec.evidence), dedupe_key=key, practice=practice)
        session.add(task)
        session.flush()
        log(session, task, "created", note=spec.note)
        return "created"
    authoritative = spec.authoritative
    changed = False
    if task.status not in ACTIVE_STATUSES:
        if task.closed_by != "bot" and not spec.reopen_when_closed_by_person:
            return "ignored"  # a biller closed it on purpose: the same facts must not bring it back
        old = task.status
        task.status, task.closed_reason, task.closed_by = "open", None, None
        log(session, task, "reopened", field="status", old=old, new="open", note=spec.note)
        authoritative = changed = True
    for field in ("title", "payer_said"):
        changed |= set_field(session, task, field, getattr(spec, field), note=spec.note)
    for field in ("deadline", "reference_number"):
        value = getattr(spec, field)
        if value is not None and (authoritative or getattr(task, field) is None):
            changed |= set_field(session, task, field, value, note=spec.note)
    if task.claim_number is None and spec.claim_number:
        changed |= set_field(session, task, "claim_number", spec.claim_number, note=spec.note)
    changed |= add_evidence(session, task, spec.evidence)
    return "updated" if changed else "unchanged"


def close_task(session: Session, task: Task, reason: str, *, actor: str = "bot", status: str = "done") -> bool:
    """Close an active task with a reason; False if it was already closed."""
    if task.status not in ACTIVE_STATUSES:
        return False
    old = task.status
    task.status, task.closed_reason, task.closed_by = status, reason, actor
    task.updated_at = utc_now()
    log(session, task, "closed", actor=actor, field="status", old=old, new=status, note=reason)
    session.add(task)
    return True


def apply_resolution(session: Session, resolution: Resolution) -> bool:
    """Close the task this resolution names, if it exists and is active."""
    task = find(session, resolution.dedupe_key)
    return task is not None and close_task(session, task, resolution.reason)
