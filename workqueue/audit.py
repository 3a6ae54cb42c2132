"""The audit trail: who saw or changed which task, claim, letter, screenshot or export, when and from where."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, col, func, select

from workqueue.models import AuditEvent

AUDIT_ACTIONS = ("view", "change", "export", "sign_in", "sign_in_refused", "sign_out", "user_added",
                 "user_disabled", "user_enabled", "password_set", "user_practices", "block_cleared", "refused")


def cli_login() -> str:
    """Who is at the terminal: the OS login name."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "user"


USER_ENV = "PAYERBOT_USER"  # a web user's name: the CLI then acts and sees as that user (workqueue.cli_scope)


def cli_actor() -> str:
    """Who the CLI acts as: the web user named in PAYERBOT_USER, else the OS login name (the machine's operator)."""
    return os.environ.get(USER_ENV, "").strip() or cli_login()


def cli_source() -> str:
    """Where a terminal command comes from: 'cli host/login'."""
    return f"cli {socket.gethostname()}/{cli_login()}"


def record_cli(session: Session, action: str, object_type: str, object_id: object = None,
               detail: str | None = None) -> AuditEvent:
    """Append one event for a terminal command, under the OS login name."""
    return record(session, actor=cli_actor(), action=action, object_type=object_type, object_id=object_id,
                  source=cli_source(), detail=detail)


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: object = None,
           source: str, role: str | None = None, detail: str | None = None) -> AuditEvent:
    """Append one event (never updated or deleted: the database refuses both)."""
    event = AuditEvent(actor=actor, role=role, action=action, object_type=object_type,
                       object_id=None if object_id is None else str(object_id), source=source,
                       detail=detail[:2000] if detail else None)
    session.add(event)
    session.flush()
    return event


def utc_day(text: str, *, end: bool = False) -> datetime:
    """The start of a UTC day given as YYYY-MM-DD (with end=True, the start of the day after); ValueError if not."""
    day = datetime.combine(datetime.fromisoformat(text).date(), time(), tzinfo=UTC)
    return day + timedelta(days=1) if end else day


def list_events(session: Session, *, actor: str | None = None, action: str | None = None,
                object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                until: datetime | None = None, limit: int = 200, offset: int = 0) -> tuple[list[AuditEvent], int]:
    """Events newest first matching the filters, and how many match in all."""
    conditions = []
    if actor:
        conditions.append(AuditEvent.actor == actor)
    if action:
        conditions.append(AuditEvent.action == action)
    if object_type:
        conditions.append(AuditEvent.object_type == object_type)
    if object_id:
        conditions.append(AuditEvent.object_id == object_id)
    if since:
        conditions.append(col(AuditEvent.at) >= since)
    if until:
        conditions.append(col(AuditEvent.at) < until)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one()
    rows = session.exec(select(AuditEvent).where(*conditions).order_by(col(AuditEvent.id).desc())
                        .offset(offset).limit(limit)).all()
    return list(rows), total


def event_as_dict(event: AuditEvent) -> dict:
    """An event as JSON-ready data."""
    return {"id": event.id, "at": event.at.isoformat(), "actor": event.actor, "role": event.role,
            "action": event.action, "object_type": event.object_type, "object_id": event.object_id,
            "detail": event.detail, "source": event.source}
