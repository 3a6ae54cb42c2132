"""Northwind Mutual's provider portal: a static SPA shell plus the JSON API it renders everything from.

Quirks on purpose (what real SPA portals do to bots): nothing is server-rendered, the one-time code
arrives by "e-mail", search results load five at a time behind "Load more", an idle timer throws a
modal over the page, and a redesign (layout 2) renames every `data-testid`.
"""

from __future__ import annotations

import secrets
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from sandbox.pdf import letter_pdf
from sandbox.state import PortalState
from sandbox.world import Authorization, Claim, Letter, claim_number_reference, search_reference

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "NWSESSION"
PENDING_COOKIE = "NWPENDING"  # the half-signed-in state between password and e-mailed code
PENDING_TTL_SECONDS = 600
CODE_TRIES = 5
IDLE_WARNING_SECONDS = 8.0  # short in the sandbox so tests meet the modal; real portals use ~15 min

# The portal's own words for each outcome (SPA style; deliberately different from the other portals).
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "received": ("Submitted", "We received this claim and will start processing it soon."),
    "accepted": ("Accepted for processing", "This claim passed our front-end edits."),
    "in_process": ("Processing", "This claim is being processed."),
    "medical_review": ("In clinical review", "A clinician is reviewing this claim."),
    "pended_records": ("Action needed: send medical records", "We need medical records to finish it."),
    "documentation_requested": ("Action needed: documentation", "We need more documentation for this claim."),
    "paid": ("Paid", "We paid this claim."),
    "partially_paid": ("Paid (partial)", "We paid part of this claim."),
    "crossover": ("Paid \u2013 sent to secondary", "We paid and sent it to the secondary payer."),
    "adjusted": ("Reprocessed", "We reprocessed this claim."),
    "no_payment": ("Closed \u2013 no payment", "Closed; the member owes the amount."),
    "denied": ("Not covered", "This claim is not covered."),
    "rejected_invalid": ("Returned \u2013 member not found", "We returned this claim without processing it."),
    "rejected_missing": ("Returned \u2013 incomplete", "We returned this claim without processing it."),
    "unlisted_wording": ("On hold \u2013 other insurance", "This claim is on hold."),
}
AUTH_WORDS = {"approved": "Approved", "pended": "In review", "denied": "Not approved",
              "partially_approved": "Approved with changes"}
LETTER_KINDS = {"remittance": "Remittance", "records_request": "Records request", "denial": "Denial",
                "authorization_decision": "Authorization", "appeal_decision": "Appeal", "other": "Notice"}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def mask_email(email: str) -> str:
    """'billing@harborpt.example' -> 'b***@harborpt.example' (what the code screen shows)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def claim_summary(claim: Claim) -> dict:
    """One search result card."""
    return {
        "claim_number": claim.payer_claim_number,
        "patient_account": claim.claim_number,
        "patient": f"{claim.member.first_name} {claim.member.last_name}",
        "member_id": claim.member.member_id,
        "date_of_service": claim.date_of_service.isoformat(),
        "billed": _money(claim.total("billed")),
        "status": STATUS_WORDS[claim.outcome][0],
    }


def claim_detail(claim: Claim) -> dict:
    """The claim detail payload; amounts the payer has not decided yet are null."""
    decided = claim.adjudication_date is not None
    label, description = STATUS_WORDS[claim.outcome]
    lines = [{
        "line_number": line.line_number,
        "procedure_code": line.procedure_code,
        "date_of_service": claim.date_of_service.isoformat(),
        "units": line.units,
        "billed": _money(line.billed),
        "allowed": _money(line.allowed) if decided else None,
        "paid": _money(line.paid) if decided else None,
        "patient_responsibility": _money(line.patient_responsibility) if decided else None,
        "adjustments": [{"group": g, "reason": carc, "amount": _money(a)} for g, carc, a in line.adjustments],
        "remarks": list(line.rarc_codes),
    } for line in claim.lines]
    payment = None
    if claim.payment_method:
        payment = {"method": claim.payment_method, "reference": claim.check_number,
                   "date": _iso(claim.payment_date)}
    return {
        **claim_summary(claim),
        "status_description": description,
        "status_label": label,
        "provider": claim.provider_name,
        "submitted_date": claim.submitted_date.isoformat(),
        "processed_date": _iso(claim.adjudication_date),
        "pending_reason": claim.pending_reason,
        "allowed": _money(claim.total("allowed")) if decided else None,
        "paid": _money(claim.total("paid")) if decided else None,
        "patient_responsibility": _money(claim.total("patient_responsibility")) if decided else None,
        "payment": payment,
        "cob_forwarded_to": claim.crossover_payer,
        "lines": lines,
    }


def letter_json(letter: Letter) -> dict:
    """One row of the document center."""
    return {"id": letter.letter_id, "title": letter.title, "date": letter.letter_date.isoformat(),
            "kind": LETTER_KINDS.get(letter.letter_type, "Notice"), "file_name": letter.file_name,
            "claim_number": letter.payer_claim_number}


def auth_json(auth: Authorization) -> dict:
    """One authorization."""
    return {
        "auth_number": auth.auth_number, "member_id": auth.member.member_id,
        "member_name": f"{auth.member.first_name} {auth.member.last_name}", "service": auth.service,
        "procedure_codes": auth.procedure_codes, "provider": auth.provider, "facility": auth.facility,
        "status": AUTH_WORDS[auth.status], "approved_units": auth.approved_units,
        "used_units": auth.used_units,
        "requested_date": auth.requested_date.isoformat(), "decision_date": _iso(auth.decision_date),
        "start_date": _iso(auth.start_date), "end_date": _iso(auth.end_date),
    }


def content_disposition(file_name: str) -> str:
    """An attachment header with an ASCII fallback and the exact name in RFC 5987 `filename*`."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _page_args(offset: int, limit: int, cap: int) -> tuple[int, int]:
    return max(0, offset), min(max(1, limit), cap)


def create_app(state: PortalState) -> FastAPI:
    """The Northwind Mutual portal over one sandbox state."""
    app = FastAPI(title="Northwind Mutual provider portal (sandbox)", docs_url=None, redoc_url=None,
                  openapi_url=None)
    # Sandbox-only knob, kept on the state object so the test route below can change it per server.
    state.northwind_idle_warning_seconds = IDLE_WARNING_SECONDS
    pending: dict[str, dict] = {}  # pending-login token -> {username, code, expires, tries}
    payer_id = state.profile.payer_id

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    def current(request: Request):
        return state.session(request.cookies.get(SESSION_COOKIE))

    def username(request: Request) -> str:
        # the gate below lets no API call through without a live session
        record = current(request)
        return record.username if record is not None else ""

    @app.middleware("http")
    async def gate(request: Request, call_next):
        """Maintenance answers 503 on the API; API calls without a live session answer 401."""
        path = request.url.path[len(root(request)):] if request.url.path.startswith(root(request)) else \
            request.url.path
        if path.startswith("/api/") and not path.startswith("/api/_test/"):
            if state.maintenance:
                return JSONResponse({"error": "We're doing some maintenance. Please try again later.",
                                     "maintenance": True}, status_code=503)
            public = path in ("/api/config", "/api/auth/login", "/api/auth/verify")
            if not public and current(request) is None:
                return _error(401, "Please sign in.")
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def shell(request: Request) -> str:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return html.replace("{{ROOT}}", root(request))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/config")
    def config() -> dict:
        return {"payer_name": state.profile.name, "layout": state.layout_version,
                "idle_warning_seconds": state.northwind_idle_warning_seconds}

    @app.post("/api/_test/idle-warning/{seconds}")
    def set_idle_warning(seconds: float) -> dict:
        """Sandbox-only: how long the SPA waits before the session-timeout modal (tests shorten it)."""
        state.northwind_idle_warning_seconds = seconds
        return {"idle_warning_seconds": seconds}

    @app.post("/api/auth/login")
    async def login(request: Request) -> Response:
        body = await request.json()
        email, password = str(body.get("email", "")).strip(), str(body.get("password", ""))
        outcome = state.check_password(email, password)
        if state.faults.login_captcha:  # the credentials were posted (and counted); a captcha answers
            return JSONResponse({"error": "Please confirm you're not a robot.", "captcha": True},
                                status_code=403)
        if state.faults.login_layout == 2:  # the next sign-in step is one no adapter knows yet
            return JSONResponse({"next": "sso"})
        if outcome == "locked":
            return _error(423, "Your account is locked.")
        if outcome != "ok":
            return _error(401, "We couldn't sign you in. Check your email and password.")
        code = state.send_code(email)
        token = secrets.token_urlsafe(24)
        pending[token] = {"username": email, "code": code, "tries": 0,
                          "expires": time.monotonic() + PENDING_TTL_SECONDS}
        response = JSONResponse({"next": "code", "sent_to": mask_email(email)})
        response.set_cookie(PENDING_COOKIE, token, httponly=True, samesite="lax", path=f"{root(request)}/")
        return response

    @app.post("/api/auth/verify")
    async def verify(request: Request) -> Response:
        body = await request.json()
        token = request.cookies.get(PENDING_COOKIE, "")
        entry = pending.get(token)
        if entry is None or entry["expires"] < time.monotonic():
            pending.pop(token, None)
            return _error(401, "Your sign-in expired. Please sign in again.")
        if state.faults.mfa_refuse or str(body.get("code", "")).strip() != entry["code"]:
            entry["tries"] += 1
            if entry["tries"] >= CODE_TRIES:
                pending.pop(token, None)
            return _error(400, "That code didn't work. Check it and try again.")
        pending.pop(token, None)
        session = state.new_session(entry["username"])
        with state.lock:
            state.stats["codes_verified"] += 1
            state.sessions[session].mfa_passed = True
        response = JSONResponse({"email": entry["username"]})
        response.delete_cookie(PENDING_COOKIE, path=f"{root(request)}/")
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax", path=f"{root(request)}/")
        return response

    @app.post("/api/auth/keepalive")
    def keepalive() -> dict:
        with state.lock:
            state.stats["keepalives"] += 1
        return {"ok": True}

    @app.post("/api/auth/logout")
    def logout(request: Request) -> Response:
        state.end_session(request.cookies.get(SESSION_COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path=f"{root(request)}/")
        return response

    @app.get("/api/me")
    def me(request: Request) -> dict:
        record = current(request)
        return {"email": record.username, "organization": "Harbor Physical Therapy"}

    @app.get("/api/claims")
    def claims(request: Request, member_id: str = "", dos: str = "", claim_number: str = "", offset: int = 0,
               limit: int = 5) -> Response:
        offset, limit = _page_args(offset, limit, 5)
        member_id, claim_number = member_id.strip(), claim_number.strip().upper()
        on_file = [c for c in state.claims_for(username(request)) if c.on_file]
        if claim_number:
            found = [c for c in on_file if c.payer_claim_number == claim_number]
            reference = claim_number_reference(payer_id, claim_number)
        elif member_id and dos:
            try:
                day = date.fromisoformat(dos)
            except ValueError:
                return _error(400, "Enter the date of service as a date.")
            found = [c for c in on_file if c.member.member_id == member_id and c.date_of_service == day]
            reference = search_reference(payer_id, member_id, day)
        else:
            return _error(400, "Enter a member ID and date of service, or a claim number.")
        found.sort(key=lambda c: c.claim_number)
        with state.lock:
            state.stats["claim_searches" if offset == 0 else "claim_pages_loaded"] += 1
        page = found[offset:offset + limit]
        return JSONResponse({"reference_id": reference, "total": len(found), "offset": offset,
                             "has_more": offset + limit < len(found),
                             "results": [claim_summary(c) for c in page]})

    @app.get("/api/claims/{icn}")
    def claim(request: Request, icn: str) -> Response:
        user = username(request)
        # another practice's claim answers exactly like a claim the payer never received
        found = next((c for c in state.claims_for(user) if c.on_file and c.payer_claim_number == icn), None)
        if found is None:
            return _error(404, "We couldn't find that claim.")
        state.record_lookup(found, user, request.cookies.get(SESSION_COOKIE))
        return JSONResponse(claim_detail(found))

    @app.get("/api/documents")
    def documents(request: Request, since: str = "", offset: int = 0, limit: int = 10) -> Response:
        offset, limit = _page_args(offset, limit, 10)
        letters = state.letters_for(username(request))
        if since:
            try:
                start = date.fromisoformat(since)
            except ValueError:
                return _error(400, "Enter the date as YYYY-MM-DD.")
            letters = [letter for letter in letters if letter.letter_date >= start]
        page = letters[offset:offset + limit]
        return JSONResponse({"total": len(letters), "offset": offset,
                             "has_more": offset + limit < len(letters),
                             "documents": [letter_json(letter) for letter in page]})

    @app.get("/api/documents/{letter_id}/file")
    def document_file(request: Request, letter_id: str) -> Response:
        letter = next((x for x in state.letters_for(username(request)) if x.letter_id == letter_id), None)
        if letter is None:
            return _error(404, "We couldn't find that document.")
        with state.lock:
            state.stats["documents_downloaded"] += 1
        return Response(letter_pdf(letter, state.profile.name), media_type="application/pdf",
                        headers={"Content-Disposition": content_disposition(letter.file_name)})

    @app.get("/api/authorizations")
    def authorizations(request: Request) -> dict:
        return {"authorizations": [auth_json(a) for a in state.authorizations_for(username(request))]}

    @app.get("/api/authorizations/{auth_number}")
    def authorization(request: Request, auth_number: str) -> Response:
        auth = next((a for a in state.authorizations_for(username(request)) if a.auth_number == auth_number),
                    None)
        if auth is None:
            return _error(404, "We couldn't find that authorization.")
        return JSONResponse(auth_json(auth))

    return app
