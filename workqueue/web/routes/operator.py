"""Operator pages under /operator/: bot runs and their failures with screenshots, escalations, account blocks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from workqueue.accounts import account_rows, clear_account, lease_is_live
from workqueue.db import session_scope
from workqueue.models import ACTIVE_STATUSES, BotRun, PortalAccount, Task
from workqueue.practices import may_see, visible
from workqueue.specs import OPERATOR_KINDS
from workqueue.web.formatting import evidence_rows
from workqueue.web.render import audit_in, error_page, redirect_with, render, root
from workqueue.web.security import require
from workqueue.web.state import web

router = APIRouter(prefix="/operator")
RECENT_RUNS = 30


@router.get("/", response_class=HTMLResponse)
def operator_page(request: Request) -> HTMLResponse:
    """Bot health at a glance: recent runs, open escalations, every portal account's standing."""
    viewer = require(request, "operator", "the operator pages")
    state = web(request)
    with session_scope(state.engine) as session:
        runs = list(session.exec(select(BotRun).order_by(col(BotRun.id).desc()).limit(RECENT_RUNS)).all())
        escalations = list(session.exec(select(Task).where(col(Task.kind).in_(sorted(OPERATOR_KINDS)),
                                                           col(Task.status).in_(ACTIVE_STATUSES),
                                                           visible(Task.practice, viewer.practices))
                                        .order_by(col(Task.deadline), col(Task.id))).all())
        accounts = [{"row": a, "leased": lease_is_live(a)} for a in account_rows(session)
                    if may_see(a.practice, viewer.practices)]
    return render(request, "operator.html", title="Bot health", runs=runs, escalations=escalations,
                  accounts=accounts)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int) -> HTMLResponse:
    """One night: its counts, the accounts that stopped, and each problem the bots raised with its screenshot."""
    viewer = require(request, "operator", "the operator pages")
    state = web(request)
    with session_scope(state.engine) as session:
        run = session.get(BotRun, run_id)
        if run is None:
            return error_page(request, 404, "No such run", f"There is no bot run {run_id}.")
        problems = list(session.exec(select(Task).where(Task.reference_number == f"bot-run-{run_id}",
                                                        visible(Task.practice, viewer.practices))
                                     .order_by(col(Task.id))).all())
        audit_in(session, viewer, action="view", object_type="bot_run", object_id=run_id)
    problem_rows = [{"task": t, "evidence": evidence_rows(t.evidence or [], state.home,
                                                          f"{root(request)}/tasks/{t.id}/evidence")}
                    for t in problems]
    return render(request, "run.html", title=f"Bot run {run_id}", run=run, problems=problem_rows)


@router.post("/accounts/{payer_id}/{account}/clear")
async def clear_action(request: Request, payer_id: str, account: str) -> Response:
    """Clear an account block once the cause is fixed (closes its login-problem tasks); a note is required."""
    viewer = require(request, "operator", "clearing an account block")
    form = await request.form(max_files=0, max_fields=5)
    note = str(form.get("note", "")).strip()[:500]

    def run() -> tuple[str, str]:
        with session_scope(web(request).engine) as session:
            row = session.get(PortalAccount, (payer_id, account))
            if row is not None and not may_see(row.practice, viewer.practices):
                return "error", f"{payer_id}/{account} is not blocked"  # another practice's: as unknown
            try:
                closed = clear_account(session, payer_id, account, actor=viewer.name, note=note)
            except (LookupError, ValueError) as exc:
                text = "Say what was fixed in the note." if isinstance(exc, ValueError) else str(exc)
                return "error", text
            audit_in(session, viewer, "block_cleared", "account", f"{payer_id}/{account}", detail=note)
            return "ok", (f"{payer_id}/{account} cleared: the bots log in again tonight. Closed task(s): "
                          f"{', '.join(map(str, closed)) or 'none'}.")

    return redirect_with(request, "/operator/", *await run_in_threadpool(run))
