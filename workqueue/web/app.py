"""The biller web worklist: a FastAPI app of server-rendered pages and POST forms over the work queue."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import jinja2
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import case, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.middleware.trustedhost import TrustedHostMiddleware

from bots.evidence import from_stored
from bots.status_map import claim_status_categories
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import ACTIVE_STATUSES, TASK_STATUSES, Claim, RecordsPacket, StatusFinding, Task
from workqueue.paths import payerbot_home
from workqueue.tasks import (
    assign,
    attach_packet,
    get_task,
    history,
    packets_of,
    queue_upload,
    set_status,
    task_as_dict,
    worklist_summary,
)

HERE = Path(__file__).parent
PAGE_SIZE = 200
DUE_SOON_DAYS = 3
MAX_PACKET_BYTES = 100 * 1024 * 1024  # records packets are scans: large, but not unbounded
MAX_NAME = 80
SID_COOKIE = "payerbot_web_sid"
NAME_COOKIE = "payerbot_web_name"
FLASH_COOKIE = "payerbot_web_flash"
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
# Evidence keys that name a file on disk, shown as links under these labels (never as raw paths).
EVIDENCE_FILES = {"screenshot": ("screenshot_path", "Screenshot"), "document": ("document_path", "Document (PDF)")}
_HIDDEN_EVIDENCE_KEYS = {"source", "url", "observed_at", "screenshot_path", "document_path", "screenshot_sha256",
                         "document_sha256"}
# Served inline with their real type; anything else is a download (a stored .html must never render here).
_INLINE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                 ".pdf": "application/pdf", ".txt": "text/plain; charset=utf-8"}
_PRIORITY_ORDER = case({"high": 0, "normal": 1, "low": 2}, value=Task.priority, else_=3)
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")
STATUS_CHOICES = {
    "open": "Open", "in_progress": "In progress", "waiting_on_payer": "Waiting on payer",
    "done": "Done", "cancelled": "Cancelled",
}


# -- small formatting helpers (template filters) -----------------------------------------------------------

def label(value: str | None) -> str:
    """'waiting_on_payer' -> 'waiting on payer'."""
    return "" if value is None else str(value).replace("_", " ")


def mdy(value: date | datetime | str | None) -> str:
    """A date as MM/DD/YYYY (how US billers read dates); '' for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value:%m/%d/%Y}"


def when(value: datetime | str | None) -> str:
    """A timestamp in the server's local time, e.g. '03/02/2026 08:00 EST'."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%m/%d/%Y %H:%M %Z").strip()


def money(value: Decimal | float | str | None) -> str:
    """'$1,234.56', or '' for no amount."""
    if value is None or value == "":
        return ""
    try:
        return f"${Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def due(deadline: date | None, status: str, today: date) -> tuple[str, str]:
    """(css class, words) for a deadline: overdue, due within DUE_SOON_DAYS, or nothing to flag."""
    if deadline is None or status not in ACTIVE_STATUSES:
        return "", ""
    days = (deadline - today).days
    if days < 0:
        return "overdue", f"overdue by {-days} day{'s' if days != -1 else ''}"
    if days == 0:
        return "due-soon", "due today"
    if days <= DUE_SOON_DAYS:
        return "due-soon", f"due in {days} day{'s' if days != 1 else ''}"
    return "", ""


def safe_url(value: Any) -> str | None:
    """The URL if it is http(s), else None: evidence URLs come from portals and must not become javascript:."""
    if not isinstance(value, str):
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def servable(path_text: Any, home: Path) -> Path | None:
    """The file if it exists inside the data folder (after following symlinks), else None.

    Stored paths are relative to the data folder (older rows may be absolute): `from_stored` resolves both.
    """
    if not isinstance(path_text, str) or not path_text:
        return None
    try:
        path = from_stored(path_text, home).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    return path if path.is_relative_to(home.resolve()) and path.is_file() else None


def clean_name(text: str) -> str:
    """A person's name as typed: control characters dropped, spaces collapsed, at most MAX_NAME characters."""
    text = "".join(ch for ch in text if ch.isprintable())
    return re.sub(r"\s+", " ", text).strip()[:MAX_NAME]


def safe_file_name(name: str | None) -> str:
    """The uploaded file's own name without any folder part (browsers and tools may send one)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return base[:120] or "packet.pdf"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def evidence_rows(entries: list, home: Path, base: str) -> list[dict]:
    """The task's evidence for the page: portal link (http only), file links (data folder only), other facts."""
    rows = []
    for index, entry in enumerate(entries):
        entry = entry if isinstance(entry, dict) else {"value": entry}
        files = [{"label": text, "href": f"{base}/{index}/{which}" if servable(entry.get(key), home) else None}
                 for which, (key, text) in EVIDENCE_FILES.items() if entry.get(key)]
        details = [(label(k), v) for k, v in entry.items()
                   if k not in _HIDDEN_EVIDENCE_KEYS and v not in (None, "")]
        rows.append({"source": entry.get("source") or "finding", "observed_at": entry.get("observed_at"),
                     "url": safe_url(entry.get("url")), "raw_url": entry.get("url"), "files": files,
                     "details": details})
    return rows


# -- the worklist query ------------------------------------------------------------------------------------

@dataclass
class Filters:
    """The worklist's GET filters; status '' means the active statuses (like `tasks list`)."""

    owner: str = ""
    kind: str = ""
    payer: str = ""
    status: str = ""
    q: str = ""

    def query(self, page: int | None = None) -> str:
        """The filters (and page) as a query string for links."""
        params = {k: v for k, v in vars(self).items() if v}
        if page and page > 1:
            params["page"] = str(page)
        return urlencode(params)


def worklist(session: Session, filters: Filters, page: int) -> tuple[list[Task], int]:
    """One page of tasks in `list_tasks` order (deadline, none last; priority; id) plus the total matching."""
    conditions = []
    if filters.owner:
        conditions.append(Task.owner == filters.owner)
    if filters.kind:
        conditions.append(Task.kind == filters.kind)
    if filters.payer:
        conditions.append(Task.payer_id == filters.payer)
    if filters.status == "":
        conditions.append(col(Task.status).in_(ACTIVE_STATUSES))
    elif filters.status != "all":
        conditions.append(Task.status == filters.status)
    if filters.q:
        pattern = _like(filters.q)
        conditions.append(or_(col(Task.claim_number).ilike(pattern, escape="\\"),
                              col(Task.reference_number).ilike(pattern, escape="\\")))
    total = session.exec(select(func.count()).select_from(Task).where(*conditions)).one()
    rows = session.exec(select(Task).where(*conditions)
                        .order_by(col(Task.deadline).is_(None), col(Task.deadline), _PRIORITY_ORDER, col(Task.id))
                        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return list(rows), total


def _distinct(session: Session, column) -> list[str]:
    return [v for v in session.exec(select(column).distinct().order_by(column)).all() if v]


# -- cookies: CSRF, the biller's name, flash messages --------------------------------------------------------

class _Signer:
    """HMAC with a per-process key: CSRF tokens derived from the session cookie, and signed flash messages."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)

    def sign(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, sid: str) -> str:
        return self.sign("csrf:" + sid)

    def csrf_ok(self, sid: str | None, token: str) -> bool:
        return bool(sid) and hmac.compare_digest(self.csrf_token(sid or ""), token)

    def pack(self, payload: dict) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        return f"{body}.{self.sign('flash:' + body)}"

    def unpack(self, value: str | None) -> dict | None:
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(self.sign("flash:" + body), mac):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None


def create_app(engine: Engine | None = None, *, allowed_hosts: list[str] | None = None,
               today: Callable[[], date] = date.today) -> FastAPI:
    """The worklist app over `engine` (default: the configured database, tables created if missing)."""
    engine = init_db(engine or get_engine())
    home = payerbot_home()
    signer = _Signer()
    categories = claim_status_categories()

    app = FastAPI(title="payerbot worklist", docs_url=None, redoc_url=None, openapi_url=None)
    # No login here: the app is for 127.0.0.1, and a Host check stops DNS-rebinding pages from reading it.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts or DEFAULT_HOSTS))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(label=label, mdy=mdy, when=when, money=money)
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = _CSP
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Cache-Control"] = "no-store"  # pages carry claim data: keep them out of caches
        return response

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    def actor_name(request: Request) -> str:
        return clean_name(unquote(request.cookies.get(NAME_COOKIE, "")))

    def cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path=f"{root(request)}/", httponly=True, samesite="lax")

    def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        sid = request.cookies.get(SID_COOKIE, "")
        new_sid = None if re.fullmatch(r"[A-Za-z0-9_-]{32,64}", sid) else secrets.token_urlsafe(32)
        flash = signer.unpack(request.cookies.get(FLASH_COOKIE))
        context = {"root": root(request), "csrf_token": signer.csrf_token(new_sid or sid),
                   "actor": actor_name(request), "flash": flash, "title": "", **context}
        response = templates.TemplateResponse(request, template, context, status_code=status_code)
        if new_sid:
            cookie(response, request, SID_COOKIE, new_sid, None)
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE, path=f"{root(request)}/")
        return response

    def error_page(request: Request, status_code: int, heading: str, message: str) -> HTMLResponse:
        return render(request, "error.html", status_code, title=heading, heading=heading, message=message)

    def back(request: Request, task_id: int, kind: str, text: str, actor: str | None = None) -> RedirectResponse:
        response = RedirectResponse(f"{root(request)}/tasks/{task_id}", status_code=303)
        cookie(response, request, FLASH_COOKIE, signer.pack({"kind": kind, "text": text}), 120)
        if actor:
            cookie(response, request, NAME_COOKIE, quote(actor, safe=""), 365 * 24 * 3600)
        return response

    async def action_form(request: Request, task_id: int) -> tuple[FormData, str | None, Response | None]:
        """The POSTed form, the actor's name, or the response that refuses it (CSRF 403, unknown task 404)."""
        form = await request.form(max_files=1, max_fields=20)
        if not signer.csrf_ok(request.cookies.get(SID_COOKIE), str(form.get("csrf_token", ""))):
            return form, None, error_page(request, 403, "Form expired",
                                          "This form was not sent from this worklist page, or it expired when the "
                                          "worklist restarted. Nothing was changed. Go back, reload the page and try "
                                          "again.")
        with session_scope(engine) as session:
            if session.get(Task, task_id) is None:
                return form, None, error_page(request, 404, "No such task", f"There is no task {task_id}.")
        actor = clean_name(str(form.get("actor", "")))
        if not actor:
            return form, None, back(request, task_id, "error",
                                    "Enter your name: the task's history records who made each change.")
        if actor.casefold() == "bot":
            return form, None, back(request, task_id, "error",
                                    "'bot' is the robots' name in the history; enter your own name.")
        return form, actor, None

    # -- pages ------------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def worklist_page(request: Request, owner: str = "", kind: str = "", payer: str = "", status: str = "",
                      q: str = "", page: int = 1) -> HTMLResponse:
        status = status if status in (*TASK_STATUSES, "all") else ""
        filters = Filters(owner=owner.strip(), kind=kind.strip(), payer=payer.strip(), status=status,
                          q=q.strip()[:100])
        page = max(page, 1)
        day = today()
        with session_scope(engine) as session:
            tasks, total = worklist(session, filters, page)
            summary = worklist_summary(session)
            overdue = session.exec(select(func.count()).select_from(Task).where(
                col(Task.status).in_(ACTIVE_STATUSES), col(Task.deadline) < day)).one()
            options = {"owners": _distinct(session, Task.owner), "kinds": _distinct(session, Task.kind),
                       "payers": _distinct(session, Task.payer_id)}
        by_kind: dict[str, int] = {}
        by_owner: dict[str, int] = {}
        for task_kind, task_owner, count in summary:
            by_kind[task_kind] = by_kind.get(task_kind, 0) + count
            by_owner[task_owner] = by_owner.get(task_owner, 0) + count
        rows = [{"task": t, "due": due(t.deadline, t.status, day)} for t in tasks]
        pages = max(1, -(-total // PAGE_SIZE))
        return render(request, "worklist.html", title="Worklist", rows=rows, total=total, page=page, pages=pages,
                      first=(page - 1) * PAGE_SIZE + 1 if rows else 0, last=(page - 1) * PAGE_SIZE + len(rows),
                      filters=filters, statuses=STATUS_CHOICES, by_kind=sorted(by_kind.items()),
                      by_owner=sorted(by_owner.items(), key=lambda kv: (-kv[1], kv[0])),
                      active_total=sum(by_kind.values()), overdue=overdue, today=day, **options)

    @app.get("/tasks/{task_id}", response_class=HTMLResponse)
    def task_page(request: Request, task_id: int) -> HTMLResponse:
        day = today()
        with session_scope(engine) as session:
            task = session.get(Task, task_id)
            if task is None:
                return error_page(request, 404, "No such task", f"There is no task {task_id}.")
            data = task_as_dict(task, session)
            claim = session.get(Claim, task.claim_number) if task.claim_number else None
            findings = list(session.exec(select(StatusFinding).where(StatusFinding.claim_number == task.claim_number)
                                         .order_by(col(StatusFinding.observed_at), col(StatusFinding.id))).all()
                            ) if task.claim_number else []
            rows = history(session, task_id)
            packets = packets_of(session, task_id)
            related = list(session.exec(select(Task).where(Task.claim_number == task.claim_number, Task.id != task.id)
                                        .order_by(col(Task.id))).all()) if task.claim_number else []
            owners = _distinct(session, Task.owner)
        evidence = evidence_rows(task.evidence or [], home, f"{root(request)}/tasks/{task_id}/evidence")
        status_history = [{"observed_at": f.observed_at, "category": f.status_category,
                           "meaning": categories.get(f.status_category or "", ("", ""))[1], "raw": f.raw_status,
                           "reference": (f.finding or {}).get("reference_number"),
                           "paid": (f.finding or {}).get("paid"), "run_id": f.run_id} for f in findings]
        packet_rows = [{"packet": p, "href": f"{root(request)}/tasks/{task_id}/packets/{p.packet_id}"
                        if servable(p.stored_path, home) else None} for p in packets]
        current = categories.get(claim.status_category or "", ("", ""))[1] if claim else ""
        return render(request, "task.html", title=f"Task {task_id}: {task.title}", task=task, data=data,
                      due=due(task.deadline, task.status, day), claim=claim, claim_meaning=current,
                      status_history=status_history, history=rows, packets=packet_rows, evidence=evidence,
                      related=related, owners=owners, statuses=STATUS_CHOICES,
                      can_queue=any(p.status in ("draft", "failed") for p in packets))

    @app.get("/tasks/{task_id}/evidence/{index}/{which}")
    def evidence_file(task_id: int, index: int, which: str) -> Response:
        key = EVIDENCE_FILES.get(which, ("", ""))[0]
        with session_scope(engine) as session:
            task = session.get(Task, task_id)
            entries = (task.evidence or []) if task else []
        entry = entries[index] if key and 0 <= index < len(entries) and isinstance(entries[index], dict) else {}
        return _file(servable(entry.get(key), home))

    @app.get("/tasks/{task_id}/packets/{packet_id}")
    def packet_file(task_id: int, packet_id: str) -> Response:
        with session_scope(engine) as session:
            packet = session.get(RecordsPacket, packet_id)
        path = servable(packet.stored_path, home) if packet and packet.task_id == task_id else None
        return _file(path, download_name=packet.original_file_name if path and packet else None)

    # -- actions ----------------------------------------------------------------------------------------------

    @app.post("/tasks/{task_id}/assign")
    async def assign_action(request: Request, task_id: int) -> Response:
        form, actor, refusal = await action_form(request, task_id)
        if refusal:
            return refusal
        owner = clean_name(str(form.get("owner", "")))
        if not owner:
            return back(request, task_id, "error", "Enter the new owner (a person or a team).", actor)

        def run() -> str:
            with session_scope(engine) as session:
                old = get_task(session, task_id).owner
                if old == owner:
                    return f"Task {task_id} is already owned by {owner}."
                assign(session, task_id, owner, actor=actor or "user")
                return f"Task {task_id} reassigned from {old} to {owner}."

        return back(request, task_id, "ok", await run_in_threadpool(run), actor)

    @app.post("/tasks/{task_id}/status")
    async def status_action(request: Request, task_id: int) -> Response:
        form, actor, refusal = await action_form(request, task_id)
        if refusal:
            return refusal
        status = str(form.get("status", ""))
        note = str(form.get("note", "")).strip()[:500] or None
        if status not in TASK_STATUSES:
            return back(request, task_id, "error", "Choose a status from the list.", actor)
        if status in ("done", "cancelled") and not note:
            return back(request, task_id, "error",
                        f"Add a note saying why the task is {STATUS_CHOICES[status].lower()}.", actor)

        def run() -> tuple[str, str]:
            with session_scope(engine) as session:
                old = get_task(session, task_id).status
                if old == status:
                    return "ok", f"Task {task_id} is already {STATUS_CHOICES[status].lower()}."
                if old not in ACTIVE_STATUSES and status not in ACTIVE_STATUSES:
                    # `close` leaves a closed task alone; say so rather than pretend done became cancelled.
                    return "error", (f"Task {task_id} is already closed ({STATUS_CHOICES[old].lower()}); "
                                     "reopen it first to close it another way.")
                try:
                    set_status(session, task_id, status, actor=actor or "user", note=note)
                except PermissionError as exc:
                    return "error", str(exc)
                return "ok", f"Task {task_id}: {STATUS_CHOICES[old].lower()} → {STATUS_CHOICES[status].lower()}."

        kind, text = await run_in_threadpool(run)
        return back(request, task_id, kind, text, actor)

    @app.post("/tasks/{task_id}/packets")
    async def attach_action(request: Request, task_id: int) -> Response:
        form, actor, refusal = await action_form(request, task_id)
        if refusal:
            return refusal
        upload = form.get("packet")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return back(request, task_id, "error", "Choose the records packet (a PDF file) to attach.", actor)
        name = safe_file_name(upload.filename)
        data = await upload.read(MAX_PACKET_BYTES + 1)
        await upload.close()
        if len(data) > MAX_PACKET_BYTES:
            return back(request, task_id, "error",
                        f"{name} is larger than {MAX_PACKET_BYTES // (1024 * 1024)} MB; split the packet.", actor)
        if not data.startswith(b"%PDF-"):
            # Checked on the bytes, not the name or the browser's content type: both are easy to get wrong.
            return back(request, task_id, "error",
                        f"{name} is not a PDF file, so it was not attached. Records packets must be PDF files.",
                        actor)

        def run() -> tuple[str, str]:
            with session_scope(engine) as session:
                task = get_task(session, task_id)
                if task.kind != "records_request":
                    return "error", (f"Task {task_id} is a {label(task.kind)} task; records packets go on "
                                     "records request tasks.")
                known = {p.packet_id: p.status for p in packets_of(session, task_id)}
                with tempfile.TemporaryDirectory(prefix="payerbot-upload-") as folder:
                    path = Path(folder) / name
                    path.write_bytes(data)
                    try:
                        packet = attach_packet(session, task_id, path, actor=actor or "user")
                    except ValueError as exc:
                        return "error", str(exc)
                if packet.packet_id in known:
                    return "ok", (f"{name} is already attached as packet {packet.packet_id} "
                                  f"({label(known[packet.packet_id])}).")
                return "ok", (f"{name} attached as draft packet {packet.packet_id}. "
                              "Queue it for tonight's upload when it is complete.")

        kind, text = await run_in_threadpool(run)
        return back(request, task_id, kind, text, actor)

    @app.post("/tasks/{task_id}/queue")
    async def queue_action(request: Request, task_id: int) -> Response:
        form, actor, refusal = await action_form(request, task_id)
        if refusal:
            return refusal

        def run() -> tuple[str, str]:
            with session_scope(engine) as session:
                try:
                    packet = queue_upload(session, task_id, actor=actor or "user")
                except LookupError as exc:
                    if "reconciled" in str(exc):
                        return "error", "The packet is already waiting: tonight's run checks the portal for it first."
                    return "error", "There is no draft or failed records packet to queue: attach a PDF first."
                if packet.status == "unconfirmed":
                    return "ok", (f"Packet {packet.packet_id} queued: tonight's run first checks the portal's "
                                  "submission history and uploads it only if the portal does not have it.")
                return "ok", f"Packet {packet.packet_id} queued: the bots upload it with tonight's run."

        kind, text = await run_in_threadpool(run)
        return back(request, task_id, kind, text, actor)

    return app


def _file(path: Path | None, download_name: str | None = None) -> Response:
    """An evidence file, or 404 (also for any path outside the data folder: never say which)."""
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    media_type = _INLINE_TYPES.get(path.suffix.lower())
    if media_type is None:
        return FileResponse(path, media_type="application/octet-stream", filename=download_name or path.name)
    return FileResponse(path, media_type=media_type, filename=download_name or path.name,
                        content_disposition_type="inline")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the worklist on http://host:port/ until interrupted (`payerbot web`); loopback addresses only."""
    if not _loopback(host):
        # The worklist has no login of its own and shows claim data: share it only behind an authenticating proxy.
        raise ValueError(f"refusing to serve the worklist on {host}: use 127.0.0.1 (it has no login)")
    app = create_app(allowed_hosts=sorted({*DEFAULT_HOSTS, host}))
    uvicorn.run(app, host=host, port=port, log_level="info")
