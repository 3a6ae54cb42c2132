"""Rendering pages: the Jinja environment, the context every page gets, flash messages, error pages, auditing."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from workqueue.audit import record
from workqueue.db import session_scope
from workqueue.web.formatting import FILTERS
from workqueue.web.security import CSRF_PARAM, Viewer, set_cookie
from workqueue.web.state import web

HERE = Path(__file__).parent
FLASH_COOKIE = "payerbot_flash"


def make_templates() -> Jinja2Templates:
    """The app's templates: autoescaped (portal text is never trusted), strict about missing variables."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals.update(FILTERS)
    return Jinja2Templates(env=env)


def root(request: Request) -> str:
    """The URL prefix the app is mounted under ('' at the top of the site)."""
    return request.scope.get("root_path", "")


def viewer_or_none(request: Request) -> Viewer | None:
    """The signed-in user, if any (the sign-in page has none)."""
    return request.scope.get("state", {}).get("viewer")


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page with what every page needs: the prefix, the user, their form token and any flash message."""
    state = web(request)
    viewer = viewer_or_none(request)
    flash = state.signer.unpack(request.cookies.get(FLASH_COOKIE))
    context = {"root": root(request), "viewer": viewer, "csrf": viewer.csrf if viewer else "",
               "csrf_param": CSRF_PARAM, "flash": flash, "title": "", **context}
    response = state.templates.TemplateResponse(request, template, context, status_code=status_code)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=f"{root(request)}/")
    return response


def error_page(request: Request, status_code: int, heading: str, message: str) -> HTMLResponse:
    """A plain error page (404 no such thing, 403 not for your role, 400 bad input)."""
    return render(request, "error.html", status_code, title=heading, heading=heading, message=message)


def redirect_with(request: Request, path: str, kind: str, text: str) -> RedirectResponse:
    """303 to a page of this app, carrying a one-time message ('ok' or 'error')."""
    response = RedirectResponse(f"{root(request)}{path}", status_code=303)
    set_cookie(response, request.scope, FLASH_COOKIE, web(request).signer.pack({"kind": kind, "text": text}), 120)
    return response


def audit_in(session: Session, viewer: Viewer, action: str, object_type: str, object_id: object = None,
             detail: str | None = None) -> None:
    """Record one audit event for the signed-in user in the caller's transaction."""
    record(session, actor=viewer.name, role=viewer.role, action=action, object_type=object_type,
           object_id=object_id, source=viewer.source, detail=detail)


def audit_now(request: Request, action: str, object_type: str, object_id: object = None,
              detail: str | None = None) -> None:
    """Record one audit event for the signed-in user, in its own transaction (sync routes)."""
    viewer = viewer_or_none(request)
    with session_scope(web(request).engine) as session:
        if viewer is not None:
            audit_in(session, viewer, action, object_type, object_id, detail)
            return
        record(session, actor="anonymous", action=action, object_type=object_type, object_id=object_id,
               source=f"web {request.client.host if request.client else 'unknown'}", detail=detail)


async def audit(request: Request, action: str, object_type: str, object_id: object = None,
                detail: str | None = None) -> None:
    """`audit_now` for async routes (the database work runs in a thread)."""
    await run_in_threadpool(audit_now, request, action, object_type, object_id, detail)
