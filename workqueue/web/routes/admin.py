"""Admin pages under /admin/: users (add, disable, enable, new password) and the audit trail."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from workqueue.audit import AUDIT_ACTIONS, list_events, utc_day
from workqueue.db import session_scope
from workqueue.models import USER_ROLES
from workqueue.practices import parse_practices
from workqueue.users import UserError, add_user, list_users, set_disabled, set_password, set_practices
from workqueue.web.render import audit_in, redirect_with, render
from workqueue.web.security import require
from workqueue.web.state import web

router = APIRouter(prefix="/admin")
AUDIT_PAGE = 100


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    """Every user with role, team, state and last sign-in; forms to add and change them."""
    require(request, "admin", "the admin pages")
    with session_scope(web(request).engine) as session:
        users = list_users(session)
    return render(request, "users.html", title="Users", users=users, roles=USER_ROLES)


@router.post("/users")
async def add_user_action(request: Request) -> Response:
    """Add a user with a role, a team and a first password."""
    viewer = require(request, "admin", "adding users")
    form = await request.form(max_files=0, max_fields=8)
    name, role = str(form.get("name", "")).strip(), str(form.get("role", ""))
    team = str(form.get("team", "")).strip()[:80] or None
    password = str(form.get("password", ""))
    practices = parse_practices(str(form.get("practices", ""))[:400])

    def run() -> tuple[str, str]:
        with session_scope(web(request).engine) as session:
            try:
                add_user(session, name, role, password, team=team, practices=practices)
            except UserError as exc:
                return "error", f"Not added: {exc}."
            audit_in(session, viewer, "user_added", "user", name,
                     detail=f"role {role}" + (f", team {team}" if team else ""))
            return "ok", f"User {name} added as {role}."

    return redirect_with(request, "/admin/users", *await run_in_threadpool(run))


@router.post("/users/{name}/{change}")
async def change_user_action(request: Request, name: str, change: str) -> Response:
    """disable, enable, password (sets a new one and signs the user out everywhere) or practices."""
    viewer = require(request, "admin", "changing users")
    form = await request.form(max_files=0, max_fields=5)
    password = str(form.get("password", ""))
    practices = parse_practices(str(form.get("practices", ""))[:400])

    def run() -> tuple[str, str]:
        if change == "disable" and name == viewer.name:
            return "error", "You cannot disable yourself: ask another admin."
        with session_scope(web(request).engine) as session:
            try:
                if change in ("disable", "enable"):
                    set_disabled(session, name, change == "disable")
                elif change == "password":
                    set_password(session, name, password)
                elif change == "practices":
                    set_practices(session, name, practices)
                else:
                    return "error", "Unknown change."
            except UserError as exc:
                return "error", f"Not changed: {exc}."
            action = {"disable": "user_disabled", "enable": "user_enabled", "password": "password_set",
                      "practices": "user_practices"}[change]
            shown = ", ".join(practices) or "default"
            audit_in(session, viewer, action=action, object_type="user", object_id=name,
                     detail=shown if change == "practices" else None)
            return "ok", {"disable": f"{name} is disabled and signed out.", "enable": f"{name} can sign in again.",
                          "password": f"{name} has a new password and was signed out everywhere.",
                          "practices": f"{name} sees practice(s): {shown}."}[change]

    return redirect_with(request, "/admin/users", *await run_in_threadpool(run))


def _day(text: str, end: bool = False) -> datetime | None:
    try:
        return utc_day(text, end=end)
    except ValueError:  # a half-typed date filters nothing
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
               since: str = "", until: str = "", page: int = 1) -> HTMLResponse:
    """The audit trail, newest first, filtered by who, what, which object and when (UTC days)."""
    viewer = require(request, "admin", "the audit trail")
    page = max(page, 1)
    filters = {"actor": actor.strip(), "action": action.strip(), "object_type": object_type.strip(),
               "object_id": object_id.strip(), "since": since.strip(), "until": until.strip()}
    with session_scope(web(request).engine) as session:
        events, total = list_events(session, actor=filters["actor"] or None, action=filters["action"] or None,
                                    object_type=filters["object_type"] or None,
                                    object_id=filters["object_id"] or None, since=_day(filters["since"]),
                                    until=_day(filters["until"], end=True), limit=AUDIT_PAGE,
                                    offset=(page - 1) * AUDIT_PAGE)
        audit_in(session, viewer, action="view", object_type="audit_trail")
    pages = max(1, -(-total // AUDIT_PAGE))
    return render(request, "audit.html", title="Audit trail", events=events, total=total, page=page, pages=pages,
                  filters=filters, actions=AUDIT_ACTIONS)
