"""Bot run bookkeeping: when a night started and ended, for which payers, what it counted, what failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bots.findings import utc_now
from workqueue.models import BotRun, PayerStop


def start_run(session: Session, *, flow_run_id: str | None, payer_ids: list[str], holder: str | None = None) -> int:
    """Record a run's start; return its id (used in operator task references: bot-run-<id>)."""
    run = BotRun(flow_run_id=flow_run_id, payers=list(payer_ids), holder=holder, heartbeat_at=utc_now())
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, *, counts: dict, errors: list[dict], status: str) -> BotRun:
    """Record a run's end, its counts and errors; the duration is computed."""
    run = session.get(BotRun, run_id)
    if run is None:
        raise LookupError(f"no bot run {run_id}")
    run.finished_at = utc_now()
    run.duration_s = round((run.finished_at - run.started_at).total_seconds(), 3)
    run.counts, run.errors, run.status = dict(counts), list(errors), status
    session.add(run)
    session.flush()
    return run


def previous_run_started(session: Session, run_id: int) -> datetime | None:
    """When the run before this one started (None for the first run): "since the last night"."""
    return session.exec(select(BotRun.started_at).where(BotRun.id < run_id)
                        .order_by(col(BotRun.id).desc())).first()


def record_payer_stop(session: Session, run_id: int, payer_id: str, account: str) -> None:
    """Note that this run found the payer's portal changed (the first lane's note stands; a second is a no-op)."""
    if session.get(PayerStop, (run_id, payer_id)) is not None:
        return
    session.add(PayerStop(run_id=run_id, payer_id=payer_id, account=account))
    try:
        session.flush()
    except IntegrityError:  # another worker's lane noted it a moment ago
        session.rollback()


def payer_stopped(session: Session, run_id: int, payer_id: str) -> bool:
    """Whether a lane of this run, on any worker, found this payer's portal changed."""
    return session.get(PayerStop, (run_id, payer_id)) is not None
