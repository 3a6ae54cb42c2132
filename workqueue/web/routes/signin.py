"""Sign-in and sign-out: the form at /login, server-side sessions, the throttle on bad passwords."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import func, select
from starlette.concurrency import run_in_threadpool

from workqueue.audit import record
from workqueue.db import session_scope
from workqueue.models import WebUser
from workqueue.users import authenticate
from workqueue.web.render import audit_in, render, root
from workqueue.web.security import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    client_address,
    cookie_path,
    end_session,
    local_next,
    set_cookie,
    sign_in_token,
    start_session,
    viewer_of,
)
from workqueue.web.state import web

router = APIRouter()
WHY = {
    "idle": "You were signed out after {idle} minutes without activity. Sign in again.",
    "ended": "Your session ended. Sign in again.",
    "signed_out": "You are signed out.",
    "unknown_user": "Your company sign-on name is not a payerbot user: ask an admin to add you.",
}
REFUSALS = {
    "bad_password": "Wrong user name or password.",
    "disabled": "This user is disabled: ask an admin.",
    "throttled": "Too many wrong passwords: wait {minutes} minute(s) and try again.",
}


def _form(request: Request, status_code: int = 200, message: str | None = None, username: str = "",
          next_path: str = "") -> Response:
    state = web(request)
    value = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    with session_scope(state.engine) as session:
        users = session.exec(select(func.count()).select_from(WebUser)).one()
    response = render(request, "login.html", status_code, title="Sign in", message=message, username=username,
                      next_path=next_path, sign_in_token=sign_in_token(state, value), no_users=users == 0,
                      idle_minutes=int(state.settings.idle.total_seconds() // 60))
    set_cookie(response, request.scope, SIGN_IN_COOKIE, value, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "", why: str = "") -> Response:
    """The sign-in form (already signed in: straight on)."""
    message = WHY.get(why, "")
    if message:
        message = message.format(idle=int(web(request).settings.idle.total_seconds() // 60))
    return _form(request, message=message or None, next_path=next if next.startswith("/") else "")


@router.post("/login")
async def login_action(request: Request) -> Response:
    """Check the name and password; on success a new session (never the one from before sign-in)."""
    form = await request.form(max_files=0, max_fields=5)
    name = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    next_path = str(form.get("next", ""))
    address = client_address(request.scope)
    state = web(request)

    def run() -> tuple[str | None, str | None, int]:
        with session_scope(state.engine) as session:
            outcome = authenticate(session, name, password, address=address)
            if outcome.user is None:
                record(session, actor=name.strip()[:64] or "(blank)", action="sign_in_refused", object_type="session",
                       source=f"web {address}", detail=outcome.refusal)
                return None, outcome.refusal, outcome.wait_s
            token = start_session(session, outcome.user, address)
            record(session, actor=outcome.user.name, role=outcome.user.role, action="sign_in", object_type="session",
                   source=f"web {address}")
            return token, None, 0

    token, refusal, wait_s = await run_in_threadpool(run)
    if token is None:
        text = REFUSALS.get(refusal or "", REFUSALS["bad_password"]).format(minutes=max(1, -(-wait_s // 60)))
        return await run_in_threadpool(_form, request, 429 if refusal == "throttled" else 401, text, name, next_path)
    response = RedirectResponse(local_next(next_path, root(request)), status_code=303)
    set_cookie(response, request.scope, SESSION_COOKIE, token)  # a session cookie: gone when the browser closes
    response.delete_cookie(SIGN_IN_COOKIE, path=cookie_path(request.scope), httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout_action(request: Request) -> Response:
    """End this session everywhere it is stored; back to the sign-in page."""
    viewer = viewer_of(request)
    with session_scope(web(request).engine) as session:
        end_session(session, viewer)
        audit_in(session, viewer, action="sign_out", object_type="session")
    response = RedirectResponse(f"{root(request)}/login?why=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request.scope))
    return response

