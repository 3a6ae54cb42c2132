"""The biller web app: wires the routes, the sign-in gate and the security headers; `serve` runs it."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from datetime import date

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select
from starlette.middleware.trustedhost import TrustedHostMiddleware

from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import WebUser
from workqueue.paths import payerbot_home
from workqueue.web.render import HERE, audit_now, error_page, make_templates
from workqueue.web.routes import admin, claims, dashboard, exports, operator, signin, tasks, worklist
from workqueue.web.security import Gate, RoleRequired
from workqueue.web.settings import WebSettings, settings_from_env
from workqueue.web.state import WebState

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")
log = logging.getLogger("payerbot.web")


def create_app(engine: Engine | None = None, *, allowed_hosts: list[str] | None = None,
               today: Callable[[], date] = date.today, settings: WebSettings | None = None) -> FastAPI:
    """The web app over `engine` (default: the configured database, brought to the newest schema)."""
    engine = init_db(engine or get_engine())
    state = WebState(engine=engine, home=payerbot_home(), settings=settings or settings_from_env(),
                     templates=make_templates(), today=today)
    app = FastAPI(title="payerbot worklist", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = state
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (signin, worklist, tasks, claims, dashboard, exports, operator, admin):
        app.include_router(module.router)

    @app.exception_handler(RoleRequired)
    def role_required(request: Request, exc: RoleRequired) -> Response:
        audit_now(request, "refused", "page", request.url.path, detail=f"needs {exc.role}: {exc.what}")
        return error_page(request, 403, "Not for your role",
                          f"Only {exc.role}s (and above) can use {exc.what}. You are signed in as "
                          f"{exc.viewer.name} ({exc.viewer.role}).")

    # Added innermost first: the Host check runs before anything, the gate before every route.
    app.add_middleware(Gate, state=state)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")  # every page and file carries patient data
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = _CSP
            response.headers["X-Frame-Options"] = "DENY"
        viewer = request.scope.get("state", {}).get("viewer")
        # The path only: query strings can hold a patient's name typed into a search.
        log.info("%s %s %s %s", viewer.name if viewer else "-", request.method, request.url.path,
                 response.status_code)
        return response

    # DNS rebinding: a page on another site that resolves to 127.0.0.1 must not reach the app.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts or DEFAULT_HOSTS))
    return app


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def enabled_users(engine: Engine) -> int:
    """How many users can sign in."""
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(WebUser).where(col(WebUser.disabled).is_(False))).one()


def serve(host: str = "127.0.0.1", port: int = 8765, *, allowed_hosts: list[str] | None = None) -> None:
    """Run the web app on http://host:port/ until interrupted (`payerbot web`).

    Beyond loopback only once users exist: before that nobody could sign in, and the page would only invite guessing.
    """
    engine = init_db(get_engine())
    if not _loopback(host) and enabled_users(engine) == 0:
        raise ValueError(f"refusing to serve on {host}: add a user first (payerbot users add NAME --role admin); "
                         "until then only 127.0.0.1 is allowed")
    app = create_app(engine, allowed_hosts=sorted({*DEFAULT_HOSTS, host, *(allowed_hosts or [])}))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # proxy_headers off: only the gate reads X-Forwarded-*, and only from PAYERBOT_WEB_TRUSTED_PROXIES.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, proxy_headers=False)
