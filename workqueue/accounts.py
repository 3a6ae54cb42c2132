"""Portal accounts as the unit of safety: blocks after a login problem, tonight's logins, one live run each.

A login problem blocks one account (not the payer) until an operator clears it. Each account may log in
once per night plus a few re-logins after the portal ends the session. A live run holds a lease on each
account it works; a lease not renewed in time, or held by a process that has died, has expired.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bots.findings import utc_now
from workqueue.models import ACTIVE_STATUSES, AccountHistory, BotRun, PortalAccount, Task
from workqueue.taskstore import close_task

#: task kinds that mean a login went wrong: each blocks its account until an operator clears it
LOGIN_PROBLEM_KINDS = ("login_failed", "account_locked", "mfa_required", "captcha_challenge", "portal_changed")


def this_holder() -> str:
    """This process as a lease holder: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str | None) -> bool:
    """Whether a holder is a process on this host that no longer runs (other hosts: unknown, so False)."""
    if not holder or ":" not in holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def night_of(moment: datetime) -> date:
    """The night a moment belongs to: runs from noon to noon UTC count as one night (US nights sit inside)."""
    return (moment - timedelta(hours=12)).date()


def account_row(session: Session, payer_id: str, account: str) -> PortalAccount:
    """The account's row, created on first use."""
    row = session.get(PortalAccount, (payer_id, account))
    if row is None:
        row = PortalAccount(payer_id=payer_id, account=account)
        session.add(row)
        session.flush()
    return row


def _history(session: Session, row: PortalAccount, action: str, note: str | None, actor: str = "bot") -> None:
    session.add(AccountHistory(payer_id=row.payer_id, account=row.account, action=action, note=note, actor=actor))


def block_account(session: Session, payer_id: str, account: str, *, kind: str, reason: str,
                  task_id: int | None = None) -> bool:
    """Block an account after a login problem; False if it was already blocked."""
    row = account_row(session, payer_id, account)
    if row.state == "blocked":
        return False
    row.state, row.blocked_kind, row.blocked_reason = "blocked", kind, reason[:500]
    row.blocked_at, row.blocked_task_id, row.updated_at = utc_now(), task_id, utc_now()
    session.add(row)
    _history(session, row, "blocked", f"{kind}: {reason[:300]}")
    session.flush()
    return True


def clear_account(session: Session, payer_id: str, account: str, *, actor: str, note: str) -> list[int]:
    """Clear a block (an operator fixed the cause); closes the account's open login-problem tasks.

    Returns the ids of the tasks it closed. Raises LookupError for an account that is not blocked.
    """
    row = session.get(PortalAccount, (payer_id, account))
    if row is None or row.state != "blocked":
        raise LookupError(f"{payer_id}/{account} is not blocked")
    if not note.strip():
        raise ValueError("say what was fixed: --note is required")
    row.state, row.updated_at = "ok", utc_now()
    row.blocked_kind = row.blocked_reason = None
    row.blocked_at = row.blocked_task_id = None
    row.logins = 0  # the operator checked the account: the night's budget starts again
    session.add(row)
    _history(session, row, "cleared", note, actor=actor)
    closed = []
    tasks = session.exec(select(Task).where(Task.payer_id == payer_id, Task.account == account,
                                            col(Task.kind).in_(LOGIN_PROBLEM_KINDS),
                                            col(Task.status).in_(ACTIVE_STATUSES))).all()
    for task in tasks:
        if close_task(session, task, f"account block cleared by {actor}: {note}", actor=actor):
            closed.append(task.id)
    session.flush()
    return closed


def blocked_accounts(session: Session) -> dict[tuple[str, str], PortalAccount]:
    """Every blocked account, by (payer, account)."""
    rows = session.exec(select(PortalAccount).where(PortalAccount.state == "blocked")).all()
    return {(r.payer_id, r.account): r for r in rows}


def logins_tonight(session: Session, payer_id: str, account: str, now: datetime | None = None) -> int:
    """How many logins this account has used tonight (a new night starts at zero)."""
    row = session.get(PortalAccount, (payer_id, account))
    if row is None or row.night != night_of(now or utc_now()):
        return 0
    return row.logins


def record_login(session: Session, payer_id: str, account: str, now: datetime | None = None) -> int:
    """Count one login attempt tonight; returns tonight's count."""
    now = now or utc_now()
    row = account_row(session, payer_id, account)
    if row.night != night_of(now):
        row.night, row.logins = night_of(now), 0
    row.logins += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    return row.logins


@dataclass
class LeaseRefused:
    """Why a run may not work an account now."""

    run_id: int | None
    holder: str | None
    expires_at: datetime | None

    def __str__(self) -> str:
        until = f" until {self.expires_at:%H:%M:%S} UTC" if self.expires_at else ""
        return f"held by live run {self.run_id} ({self.holder}){until}"


def lease_is_live(row: PortalAccount, now: datetime | None = None) -> bool:
    """Whether a run holds the account right now: a lease not expired whose process still runs."""
    if row.lease_run_id is None:
        return False
    if row.lease_expires_at is not None and row.lease_expires_at <= (now or utc_now()):
        return False
    return not holder_is_dead(row.lease_holder)


def acquire_lease(session: Session, payer_id: str, account: str, *, run_id: int, seconds: float,
                  holder: str | None = None) -> LeaseRefused | None:
    """Take the account for this run (compare-and-swap on the old holder); None when taken, else why not."""
    holder = holder or this_holder()
    now = utc_now()
    try:
        account_row(session, payer_id, account)
        session.commit()  # the row must exist before two runs race on it
    except IntegrityError:  # another run created it a moment ago
        session.rollback()
    row = session.get(PortalAccount, (payer_id, account))
    session.refresh(row)
    if row.lease_run_id != run_id and lease_is_live(row, now):
        return LeaseRefused(row.lease_run_id, row.lease_holder, row.lease_expires_at)
    old = PortalAccount.__table__.c
    condition = (old.payer_id == payer_id) & (old.account == account)
    condition &= old.lease_run_id.is_(None) if row.lease_run_id is None else old.lease_run_id == row.lease_run_id
    result = session.execute(update(PortalAccount).where(condition).values(
        lease_run_id=run_id, lease_holder=holder, lease_expires_at=now + timedelta(seconds=seconds),
        updated_at=now))
    session.commit()
    if result.rowcount != 1:  # another run took it between our read and our write
        session.refresh(row)
        return LeaseRefused(row.lease_run_id, row.lease_holder, row.lease_expires_at)
    return None


def renew_lease(session: Session, payer_id: str, account: str, *, run_id: int, seconds: float) -> bool:
    """Extend this run's lease; False if the run no longer holds it."""
    c = PortalAccount.__table__.c
    result = session.execute(update(PortalAccount).where(
        (c.payer_id == payer_id) & (c.account == account) & (c.lease_run_id == run_id)).values(
        lease_expires_at=utc_now() + timedelta(seconds=seconds)))
    return result.rowcount == 1


def release_lease(session: Session, payer_id: str, account: str, *, run_id: int) -> None:
    """Give the account back at the end of the run's work on it."""
    c = PortalAccount.__table__.c
    session.execute(update(PortalAccount).where(
        (c.payer_id == payer_id) & (c.account == account) & (c.lease_run_id == run_id)).values(
        lease_run_id=None, lease_holder=None, lease_expires_at=None))


def interrupt_dead_runs(session: Session, *, stale_after_s: float, now: datetime | None = None) -> list[int]:
    """Mark runs still 'running' whose process died (or that stopped renewing) as interrupted; their ids."""
    now = now or utc_now()
    interrupted = []
    for run in session.exec(select(BotRun).where(BotRun.status == "running")).all():
        last = run.heartbeat_at or run.started_at
        if holder_is_dead(run.holder) or last <= now - timedelta(seconds=stale_after_s):
            run.status = "interrupted"
            run.finished_at = run.finished_at or now
            session.add(run)
            interrupted.append(run.id)
    c = PortalAccount.__table__.c
    if interrupted:
        session.execute(update(PortalAccount).where(c.lease_run_id.in_(interrupted)).values(
            lease_run_id=None, lease_holder=None, lease_expires_at=None))
    session.flush()
    return interrupted


def heartbeat(session: Session, run_id: int) -> None:
    """The run is alive."""
    run = session.get(BotRun, run_id)
    if run is not None:
        run.heartbeat_at = utc_now()
        session.add(run)


def account_rows(session: Session) -> list[PortalAccount]:
    """Every account the work queue knows, by payer and account."""
    return list(session.exec(select(PortalAccount).order_by(PortalAccount.payer_id, PortalAccount.account)))


def account_history(session: Session, payer_id: str, account: str) -> list[AccountHistory]:
    """What happened to one account, oldest first."""
    return list(session.exec(select(AccountHistory).where(AccountHistory.payer_id == payer_id,
                                                          AccountHistory.account == account)
                             .order_by(AccountHistory.id)))
