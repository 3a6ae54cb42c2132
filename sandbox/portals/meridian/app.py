"""Meridian Health Plan provider portal (sandbox): server-rendered forms, TOTP, CSRF, odd status wording."""

from __future__ import annotations

import hashlib
import secrets
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode

import pyotp
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sandbox.formats import mdy, money, parse_mdy
from sandbox.pdf import letter_pdf
from sandbox.state import PortalSessionRecord, PortalState
from sandbox.world import Claim, claim_number_reference, search_reference

HERE = Path(__file__).parent
SESSION_COOKIE = "MHPSESSION"
DEVICE_COOKIE = "MHPDEVICE"
LOGIN_CSRF_COOKIE = "MHPXSRF"  # double-submit token for the login form (there is no session yet)
RESULTS_PER_PAGE = 10
DOCUMENTS_PER_PAGE = 20
AUTHS_PER_PAGE = 10
HISTORY_PER_PAGE = 10
DEVICE_DAYS = 30

# The portal's own wording. Deliberately odd, like real portals; the help pages list all but the last.
STATUS_WORDING = {
    "received": "Received - Pending Acceptance",
    "accepted": "Accepted",
    "in_process": "In Process",
    "medical_review": "Under Clinical Review",
    "pended_records": "Pended - Medical Records Requested",
    "documentation_requested": "Additional Documentation Required",
    "paid": "Paid",
    "partially_paid": "Partially Paid",
    "crossover": "Paid - Crossed Over",
    "adjusted": "Adjusted",
    "no_payment": "Processed - No Payment Due",
    "denied": "Denied",
    "rejected_invalid": "Rejected - Invalid Member ID",
    "rejected_missing": "Rejected - Missing Information",
    "unlisted_wording": "Suspended - COB Verification",
}
AUTH_WORDING = {"approved": "Approved", "pended": "Pending Review", "denied": "Denied",
                "partially_approved": "Partially Approved"}
DOCUMENT_TYPES = ["Medical Records", "Itemized Bill", "Operative Report", "Other"]
NO_RESULTS = "No claims match your search criteria."
TIMEOUT_BANNER = "Your session has timed out. Please log in again."





def adjustments_text(adjustments: list[tuple[str, str, Decimal]]) -> str:
    """'CO-45 $52.82; PR-3 $20.00'."""
    return "; ".join(f"{group}-{carc} {money(amount)}" for group, carc, amount in adjustments) or "-"


def content_disposition(file_name: str) -> str:
    """The letter's name sent as-is (quoted) plus RFC 5987 `filename*`; browsers must sanitise it."""
    ascii_name = file_name.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def create_app(state: PortalState) -> FastAPI:
    """The Meridian portal over one PortalState (mounted at /meridian by the sandbox server)."""
    app = FastAPI(title="Meridian Provider Portal (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = money
    templates.env.filters["mdy"] = mdy
    templates.env.filters["adjustments"] = adjustments_text
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    profile = state.profile
    world = state.world

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        context.setdefault("record", None)
        return templates.TemplateResponse(request, name, {"root": root(request), "payer": profile.name,
                                                          **context}, status_code=status_code)

    def redirect(request: Request, path: str) -> RedirectResponse:
        return RedirectResponse(f"{root(request)}{path}", status_code=303)

    def logged_in(request: Request) -> PortalSessionRecord | None:
        record = state.session(request.cookies.get(SESSION_COOKIE))
        return record if record is not None and record.mfa_passed else None

    def timed_out(request: Request) -> RedirectResponse:
        # Real portals say "timed out" whether the session expired or never existed.
        return redirect(request, "/login?timeout=1")

    def bad_token(request: Request) -> HTMLResponse:
        return render(request, "error.html", 403, title="Request Error",
                      message="Invalid or expired request token.")

    def csrf_ok(record: PortalSessionRecord, form) -> bool:
        return secrets.compare_digest(str(form.get("csrf_token", "")), record.csrf_token)

    @app.middleware("http")
    async def maintenance(request: Request, call_next):
        if state.maintenance:
            return render(request, "maintenance.html", 503)
        return await call_next(request)

    # -- login ------------------------------------------------------------------------------------------
    @app.get("/")
    def index(request: Request) -> Response:
        return redirect(request, "/home" if logged_in(request) else "/login")

    def login_page(request: Request, *, error: str | None = None, status_code: int = 200,
                   banner: str | None = None) -> HTMLResponse:
        token = secrets.token_urlsafe(16)
        response = render(request, "login.html", status_code, error=error, banner=banner, login_csrf=token)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, path=f"{root(request)}/", httponly=True, samesite="lax")
        return response

    @app.get("/login")
    def login_form(request: Request, timeout: int = 0, logout: int = 0) -> HTMLResponse:
        banner = TIMEOUT_BANNER if timeout else ("You have been logged out." if logout else None)
        return login_page(request, banner=banner)

    @app.post("/login")
    async def login_submit(request: Request) -> Response:
        form = await request.form()
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie_token or not secrets.compare_digest(str(form.get("csrf_token", "")), cookie_token):
            return bad_token(request)
        username = str(form.get("userid", "")).strip()
        result = state.check_password(username, str(form.get("password", "")))
        if state.faults.login_captcha:  # the credentials were posted (and counted); a captcha answers
            return render(request, "login_captcha.html")
        if state.faults.login_layout == 2:  # the posted form leads to a sign-in page no adapter knows yet
            return render(request, "login_v2.html", login_csrf=secrets.token_urlsafe(16))
        if result == "locked":
            return login_page(request, error="Your account has been locked. Please contact Provider Services "
                                             "at 1-800-555-0100.")
        if result != "ok":
            return login_page(request, error="The User ID or Password you entered is incorrect.")
        state.end_session(request.cookies.get(SESSION_COOKIE))  # no session fixation
        token = state.new_session(username)
        record = state.session(token)
        if state.device_remembered(request.cookies.get(DEVICE_COOKIE), username):
            record.mfa_passed = True
            with state.lock:
                state.stats["device_remembered_logins"] += 1
            response = redirect(request, "/home")
        else:
            response = redirect(request, "/mfa")
        response.set_cookie(SESSION_COOKIE, token, path=f"{root(request)}/", httponly=True, samesite="lax")
        return response

    def mfa_page(request: Request, record: PortalSessionRecord, error: str | None = None) -> HTMLResponse:
        with state.lock:
            state.stats["mfa_prompts"] += 1
        return render(request, "mfa.html", record=record, error=error)

    @app.get("/mfa")
    def mfa_form(request: Request) -> Response:
        record = state.session(request.cookies.get(SESSION_COOKIE))
        if record is None:
            return timed_out(request)
        if record.mfa_passed:
            return redirect(request, "/home")
        return mfa_page(request, record)

    @app.post("/mfa")
    async def mfa_submit(request: Request) -> Response:
        record = state.session(request.cookies.get(SESSION_COOKIE))
        if record is None:
            return timed_out(request)
        form = await request.form()
        if not csrf_ok(record, form):
            return bad_token(request)
        code = str(form.get("code", "")).strip()
        refused = state.faults.mfa_refuse
        authenticator = pyotp.TOTP(state.totp_seed_of(record.username))  # each login has its own seed
        if refused or not (code.isdigit() and authenticator.verify(code, valid_window=1)):
            return mfa_page(request, record, "The security code is not valid.")
        record.mfa_passed = True
        with state.lock:
            state.stats["totp_verifications"] += 1
        response = redirect(request, "/home")
        if form.get("remember_device"):
            device = state.remember_device(record.username)
            response.set_cookie(DEVICE_COOKIE, device, path=f"{root(request)}/", max_age=DEVICE_DAYS * 86400,
                                httponly=True, samesite="lax")
        return response

    @app.get("/logout")
    def logout(request: Request) -> Response:
        state.end_session(request.cookies.get(SESSION_COOKIE))
        response = redirect(request, "/login?logout=1")
        response.delete_cookie(SESSION_COOKIE, path=f"{root(request)}/")
        return response

    @app.get("/home")
    def home(request: Request) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        return render(request, "home.html", record=record, today=world.today)

    # -- claims -----------------------------------------------------------------------------------------
    def on_file(record: PortalSessionRecord, icn: str) -> Claim | None:
        # another practice's claim is as unknown to this login as a claim never filed
        return next((c for c in state.claims_for(record.username) if c.on_file and c.payer_claim_number == icn),
                    None)

    @app.get("/claims/search")
    def claim_search_form(request: Request) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        return render(request, "search.html", record=record, form={})

    @app.post("/claims/search")
    async def claim_search(request: Request) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        form = await request.form()
        if not csrf_ok(record, form):
            return bad_token(request)
        values = {key: str(form.get(key, "")).strip() for key in ("icn", "member_id", "dos_from", "dos_to")}
        if form.get("search_type") == "icn":
            if not values["icn"]:
                return render(request, "search.html", record=record, form=values,
                              error="Please enter a Claim Number.")
            record.data["search"] = {"type": "icn", "icn": values["icn"].upper()}
        else:
            dos_from = parse_mdy(values["dos_from"])
            dos_to = parse_mdy(values["dos_to"]) if values["dos_to"] else dos_from
            if not values["member_id"] or dos_from is None or dos_to is None:
                return render(request, "search.html", record=record, form=values,
                              error="Please enter a Member ID and Date of Service From/To as MM/DD/YYYY.")
            record.data["search"] = {"type": "member", "member_id": values["member_id"].upper(),
                                     "dos_from": dos_from, "dos_to": dos_to}
        if state.count_search(request.cookies.get(SESSION_COOKIE, "")):
            return render(request, "captcha.html", record=record)
        return redirect(request, "/claims/results")

    @app.get("/claims/results")
    def claim_results(request: Request, page: int = 1) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        search = record.data.get("search")
        if search is None:
            return redirect(request, "/claims/search")
        mine = state.claims_for(record.username)
        if search["type"] == "icn":
            reference = claim_number_reference(profile.payer_id, search["icn"])
            found = [c for c in mine if c.on_file and c.payer_claim_number == search["icn"]]
        else:
            reference = search_reference(profile.payer_id, search["member_id"], search["dos_from"])
            found = [c for c in mine if c.on_file and c.member.member_id == search["member_id"]
                     and search["dos_from"] <= c.date_of_service <= search["dos_to"]]
        found.sort(key=lambda c: (c.date_of_service, c.payer_claim_number), reverse=True)
        pages = max(1, -(-len(found) // RESULTS_PER_PAGE))
        page = min(max(page, 1), pages)
        rows = found[(page - 1) * RESULTS_PER_PAGE: page * RESULTS_PER_PAGE]
        template = "results_v2.html" if state.layout_version == 2 else "results.html"
        return render(request, template, record=record, rows=rows, total=len(found), page=page, pages=pages,
                      reference=reference, wording=STATUS_WORDING, no_results=NO_RESULTS)

    @app.get("/claims/{icn}")
    def claim_detail(request: Request, icn: str) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        claim = on_file(record, icn)
        if claim is None:
            return render(request, "error.html", 404, record=record, title="Claim Detail",
                          message="Claim not found.")
        state.record_lookup(claim, record.username, request.cookies.get(SESSION_COOKIE))
        template = "claim_v2.html" if state.layout_version == 2 else "claim.html"
        return render(request, template, record=record, claim=claim, status=STATUS_WORDING[claim.outcome],
                      adjudicated=claim.adjudication_date is not None)

    # -- documents --------------------------------------------------------------------------------------
    @app.get("/documents")
    def documents(request: Request, page: int = 1) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        since_text = request.query_params.get("from", "").strip()
        since = parse_mdy(since_text) if since_text else None
        error = "Enter the date as MM/DD/YYYY." if since_text and since is None else None
        letters = [x for x in state.letters_for(record.username) if since is None or x.letter_date >= since]
        pages = max(1, -(-len(letters) // DOCUMENTS_PER_PAGE))
        page = min(max(page, 1), pages)

        def page_link(n: int) -> str:
            query = {"from": since_text, "page": n} if since_text else {"page": n}
            return f"{root(request)}/documents?{urlencode(query)}"

        return render(request, "documents.html", record=record, error=error, since=since_text,
                      letters=letters[(page - 1) * DOCUMENTS_PER_PAGE: page * DOCUMENTS_PER_PAGE],
                      page=page, pages=pages, total=len(letters),
                      prev_link=page_link(page - 1) if page > 1 else None,
                      next_link=page_link(page + 1) if page < pages else None)

    @app.get("/documents/{letter_id}/download")
    def download(request: Request, letter_id: str) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        letter = next((x for x in state.letters_for(record.username) if x.letter_id == letter_id), None)
        if letter is None:
            return render(request, "error.html", 404, record=record, title="Document Center",
                          message="The document you requested is no longer available.")
        with state.lock:
            state.stats["downloads"] += 1
        return Response(letter_pdf(letter, profile.name), media_type="application/pdf",
                        headers={"Content-Disposition": content_disposition(letter.file_name)})

    # -- attachments ------------------------------------------------------------------------------------
    @app.get("/attachments/new")
    def attachment_form(request: Request) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        return render(request, "attach.html", record=record, types=DOCUMENT_TYPES, form={})

    @app.post("/attachments/new")
    async def attachment_submit(request: Request) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        form = await request.form()
        if not csrf_ok(record, form):
            return bad_token(request)
        icn = str(form.get("icn", "")).strip().upper()
        document_type = str(form.get("document_type", ""))
        upload = form.get("attachment")
        data = await upload.read() if hasattr(upload, "read") else b""
        values = {"icn": icn, "document_type": document_type}

        def refuse(message: str) -> HTMLResponse:
            return render(request, "attach.html", record=record, types=DOCUMENT_TYPES, form=values,
                          error=message)

        if document_type not in DOCUMENT_TYPES:
            return refuse("Please choose a Document Type.")
        if not data.startswith(b"%PDF-"):
            return refuse("Only PDF files are accepted.")
        if on_file(record, icn) is None:
            return refuse("Claim number not found.")
        receipt = state.record_upload(icn, document_type, getattr(upload, "filename", "") or "upload.pdf",
                                      hashlib.sha256(data).hexdigest(), len(data), username=record.username)
        return render(request, "attach_done.html", record=record, receipt=receipt)

    @app.get("/attachments/history")
    def attachment_history(request: Request, page: int = 1) -> Response:
        """Every attachment this practice's logins sent, newest first, ten a page (the portal's history)."""
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        mine = state.uploads_for(record.username)
        mine.sort(key=lambda u: (u.received_at, u.confirmation_number), reverse=True)
        pages = max(1, -(-len(mine) // HISTORY_PER_PAGE))
        page = min(max(page, 1), pages)
        rows = [{"received": time.strftime("%m/%d/%Y %I:%M %p", time.localtime(u.received_at)),
                 "claim_number": u.claim_number, "document_type": u.document_type, "file_name": u.file_name,
                 "size": f"{u.size:,} bytes", "confirmation_number": u.confirmation_number}
                for u in mine[(page - 1) * HISTORY_PER_PAGE: page * HISTORY_PER_PAGE]]
        return render(request, "history.html", record=record, rows=rows, total=len(mine), page=page,
                      pages=pages)

    # -- authorizations ---------------------------------------------------------------------------------
    @app.get("/authorizations")
    def authorizations(request: Request, page: int = 1) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        auths = state.authorizations_for(record.username)
        pages = max(1, -(-len(auths) // AUTHS_PER_PAGE))
        page = min(max(page, 1), pages)
        return render(request, "auths.html", record=record, page=page, pages=pages, wording=AUTH_WORDING,
                      auths=auths[(page - 1) * AUTHS_PER_PAGE: page * AUTHS_PER_PAGE])

    @app.get("/authorizations/{auth_number}")
    def authorization(request: Request, auth_number: str) -> Response:
        record = logged_in(request)
        if record is None:
            return timed_out(request)
        auth = next((a for a in state.authorizations_for(record.username) if a.auth_number == auth_number), None)
        if auth is None:
            return render(request, "error.html", 404, record=record, title="Authorizations",
                          message="Authorization not found.")
        # Therapy authorizations count visits; everything else counts units.
        unit_word = "Visits" if auth.service == "Physical therapy" else "Units"
        return render(request, "auth.html", record=record, auth=auth, status=AUTH_WORDING[auth.status],
                      unit_word=unit_word)

    return app
