"""Downloads for the practice-management system: claim statuses and tasks as CSV or JSON, each one audited."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workqueue.db import session_scope
from workqueue.export import CLAIM_COLUMNS, TASK_COLUMNS, claim_rows, task_rows, to_csv, to_json
from workqueue.web.files import NO_STORE
from workqueue.web.render import audit_in, error_page, render
from workqueue.web.security import viewer_of
from workqueue.web.state import web

router = APIRouter()
EXPORTS = {"claims": (claim_rows, CLAIM_COLUMNS), "tasks": (task_rows, TASK_COLUMNS)}
TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request) -> HTMLResponse:
    """What can be downloaded and what each file holds."""
    return render(request, "exports.html", title="Exports", claim_columns=CLAIM_COLUMNS, task_columns=TASK_COLUMNS)


@router.get("/exports/{what}.{kind}")
def export_file(request: Request, what: str, kind: str) -> Response:
    """claims.csv, claims.json, tasks.csv or tasks.json, built now from the database."""
    if what not in EXPORTS or kind not in TYPES:
        return error_page(request, 404, "No such export", "Exports are claims or tasks, as CSV or JSON.")
    viewer = viewer_of(request)
    rows_of, columns = EXPORTS[what]
    day = web(request).today()
    with session_scope(web(request).engine) as session:
        rows = rows_of(session, practices=viewer.practices)
        audit_in(session, viewer, "export", "export", f"{what}.{kind}", detail=f"{len(rows)} row(s)")
    body = to_csv(rows, columns) if kind == "csv" else to_json(rows)
    name = f"payerbot-{what}-{day.isoformat()}.{kind}"
    return Response(body, media_type=TYPES[kind],
                    headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})
