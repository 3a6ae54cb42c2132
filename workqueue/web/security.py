"""Who is asking: server-side sessions, the trusted sign-on header, roles, CSRF checked before any body is read."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from anyio import to_thread
from fastapi import HTTPException, Request
from sqlmodel import Session
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bots.findings import utc_now
from workqueue.models import WebSession, WebUser
from workqueue.practices import DEFAULT_PRACTICE, Practices, practices_of_user
from workqueue.users import role_at_least
from workqueue.web.state import WebState

SESSION_COOKIE = "payerbot_session"
SIGN_IN_COOKIE = "payerbot_sign_in"  # the sign-in form's own anti-forgery value, before any session exists
CSRF_PARAM = "csrf"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = ("/login",)
SAFE_METHODS = ("GET", "HEAD")
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often (idle precision)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user behind a request."""

    name: str
    role: str
    team: str | None
    csrf: str
    address: str | None
    token_hash: str | None = None  # None in trusted-header mode
    #: the practices this user sees (None: every practice, for admins); see workqueue.practices
    practices: Practices = frozenset({DEFAULT_PRACTICE})

    def can(self, role: str) -> bool:
        """True when this user's role includes `role`."""
        return role_at_least(self.role, role)

    @property
    def source(self) -> str:
        """Where the request came from, as the audit trail records it."""
        return f"web {self.address or 'unknown'}"


def token_hash(token: str) -> str:
    """The stored form of a session cookie value."""
    return hashlib.sha256(token.encode()).hexdigest()


PEER = "payerbot.peer"  # the TCP peer, kept when a trusted proxy's X-Forwarded-For replaces the client address


def client_address(scope: Scope) -> str | None:
    """The browser's address: the TCP peer, or what a configured proxy says in X-Forwarded-For."""
    client = scope.get("client")
    return client[0] if client else None


def peer_address(scope: Scope) -> str | None:
    """The address the request really came from (decides whether a proxy's headers are believed)."""
    return scope.get(PEER) or client_address(scope)


def believe_proxy(scope: Scope, settings) -> None:
    """From a configured proxy only: take its X-Forwarded-Proto (Secure cookies) and X-Forwarded-For (audit,
    throttle). uvicorn's own proxy-header handling is off, so nobody else can set either."""
    peer = client_address(scope)
    if PEER in scope or not settings.is_trusted_proxy(peer):
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    scope[PEER] = peer
    if headers.get("x-forwarded-proto", "").strip().lower() == "https":
        scope["scheme"] = "https"
    forwarded = headers.get("x-forwarded-for", "").split(",")[-1].strip()
    if forwarded:
        scope["client"] = (forwarded, 0)


def start_session(session: Session, user: WebUser, address: str | None) -> str:
    """A new session row for the user; the cookie value to send (stored only as its hash)."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=token_hash(token), user_name=user.name, csrf_token=secrets.token_urlsafe(24),
                           address=address))
    session.flush()
    return token


def end_session(session: Session, viewer: Viewer) -> None:
    """Delete the viewer's session row (sign-out)."""
    if viewer.token_hash:
        row = session.get(WebSession, viewer.token_hash)
        if row is not None:
            session.delete(row)


def sign_in_token(state: WebState, value: str) -> str:
    """The token the sign-in form must carry for this browser's sign-in cookie."""
    return state.signer.sign("sign-in:" + value)


def cookie_path(scope: Scope) -> str:
    """Cookies cover the app's own path only."""
    return f"{scope.get('root_path', '')}/"


def set_cookie(response: Response, scope: Scope, name: str, value: str, max_age: int | None = None) -> None:
    """HttpOnly, SameSite=Strict, Secure when the request came over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path=cookie_path(scope), httponly=True, samesite="strict",
                        secure=scope.get("scheme") == "https")


def _resolve(state: WebState, scope: Scope, cookies: dict[str, str], headers: dict[str, str]
             ) -> tuple[Viewer | None, str | None]:
    """(viewer, why not): from the trusted header when a configured proxy sent it, else from the session cookie."""
    address = client_address(scope)
    settings = state.settings
    now = utc_now()
    with Session(state.engine, expire_on_commit=False) as session:
        if settings.trusted_header and settings.is_trusted_proxy(peer_address(scope)):
            name = headers.get(settings.trusted_header.lower(), "").strip()
            if name:
                user = session.get(WebUser, name)
                if user is None or user.disabled:
                    return None, "unknown_user"
                return Viewer(user.name, user.role, user.team, state.signer.sign("csrf-user:" + user.name),
                              address, practices=practices_of_user(user.role, user.practices)), None
        token = cookies.get(SESSION_COOKIE)
        if not token:
            return None, None
        row = session.get(WebSession, token_hash(token))
        if row is None:
            return None, "ended"
        user = session.get(WebUser, row.user_name)
        expired = now - row.last_seen_at > settings.idle or now - row.created_at > settings.absolute
        if expired or user is None or user.disabled:
            session.delete(row)
            session.commit()
            return None, "idle" if expired else "ended"
        if now - row.last_seen_at > TOUCH_EVERY:
            row.last_seen_at = now
            session.add(row)
            session.commit()
        return Viewer(user.name, user.role, user.team, row.csrf_token, address, row.token_hash,
                      practices_of_user(user.role, user.practices)), None


def _relative_path(scope: Scope) -> str:
    path, root = scope.get("path", "/"), scope.get("root_path", "")
    return path[len(root):] or "/" if root and path.startswith(root) else path


class Gate:
    """ASGI middleware in front of every route: a signed-in user (or the sign-in page / 401), and a valid CSRF token
    on every form, both decided from the headers and the query string before a byte of the body is read."""

    def __init__(self, app: ASGIApp, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        believe_proxy(scope, self.state.settings)
        request = Request(scope)
        path = _relative_path(scope)
        if path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_PATHS:
            if request.method not in SAFE_METHODS and not self._sign_in_form_ok(request):
                await _refuse_form(scope)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        viewer, why = await to_thread.run_sync(_resolve, self.state, scope, dict(request.cookies),
                                               dict(request.headers))
        if viewer is None:
            await _anonymous(scope, request, path, why)(scope, receive, send)
            return
        if request.method not in SAFE_METHODS and not _csrf_ok(request, viewer):
            await _refuse_form(scope)(scope, receive, send)
            return
        scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, send)

    def _sign_in_form_ok(self, request: Request) -> bool:
        value = request.cookies.get(SIGN_IN_COOKIE, "")
        token = request.query_params.get(CSRF_PARAM, "")
        return bool(value) and _same_origin(request) and hmac.compare_digest(sign_in_token(self.state, value), token)


def _same_origin(request: Request) -> bool:
    """True unless the browser says the form came from another site (no Origin header: an older client)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and origin.split("://", 1)[-1] == request.headers.get("host", "")


def _csrf_ok(request: Request, viewer: Viewer) -> bool:
    token = request.query_params.get(CSRF_PARAM) or request.headers.get("x-csrf-token") or ""
    return _same_origin(request) and hmac.compare_digest(viewer.csrf, token)


def _refuse_form(scope: Scope) -> Response:
    # Plain text: this answer is sent before the app (and its templates) see the request.
    return PlainTextResponse("Form expired: this form was not sent from a payerbot page, or it expired when you "
                             "signed out or the worklist restarted. Nothing was changed. Go back, reload the page "
                             "and try again.", status_code=403, headers={"Cache-Control": "no-store"})


def _anonymous(scope: Scope, request: Request, path: str, why: str | None) -> Response:
    if request.method in SAFE_METHODS:
        target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
        query = f"next={quote(target, safe='')}" + (f"&why={why}" if why else "")
        return RedirectResponse(f"{scope.get('root_path', '')}/login?{query}", status_code=303,
                                headers={"Cache-Control": "no-store"})
    return PlainTextResponse("Sign in first.", status_code=401, headers={"Cache-Control": "no-store"})


def viewer_of(request: Request) -> Viewer:
    """The signed-in user (the Gate guarantees one on every non-public route)."""
    viewer = request.scope.get("state", {}).get("viewer")
    if viewer is None:
        raise HTTPException(status_code=401)
    return viewer


class RoleRequired(Exception):
    """The signed-in user's role does not include the one a page or action needs."""

    def __init__(self, viewer: Viewer, role: str, what: str) -> None:
        super().__init__(what)
        self.viewer, self.role, self.what = viewer, role, what


def require(request: Request, role: str, what: str) -> Viewer:
    """The viewer, if their role includes `role`; else RoleRequired (a 403 page, recorded in the audit trail)."""
    viewer = viewer_of(request)
    if not viewer.can(role):
        raise RoleRequired(viewer, role, what)
    return viewer


def local_next(value: str | None, root: str) -> str:
    """Where to go after sign-in: a path inside this app only (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return f"{root}/"
    return f"{root}{value}"
