"""The manager's dashboard: where the manual work comes from and which denials keep repeating."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workqueue.dashboard import dashboard_data
from workqueue.db import session_scope
from workqueue.web.charts import dashboard_charts
from workqueue.web.render import render
from workqueue.web.security import viewer_of
from workqueue.web.state import web

router = APIRouter()


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> HTMLResponse:
    """Charts drawn on the server as SVG (no scripts, no outside service), each with its numbers in a table."""
    state = web(request)
    day = state.today()
    viewer = viewer_of(request)
    with session_scope(state.engine) as session:
        dash = dashboard_data(session, day, practices=viewer.practices)
    return render(request, "dashboard.html", title="Dashboard", dash=dash, charts=dashboard_charts(dash), today=day)
