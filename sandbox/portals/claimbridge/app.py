"""ClaimBridge sandbox portal: a multi-payer clearinghouse with a payer picker, tabs and an iframe search.

Quirks on purpose (each one is something real clearinghouse portals do):
- after login the user picks a payer; only one of the listed payers is enrolled for this account;
- claim status search lives in an <iframe>, results are paginated 10 per page and every search
  prints a "Transaction ID";
- a subscriber search ignores the exact service date and returns the subscriber's claims within
  180 days of it, newest first, so the bot must walk pages and pick its claim by Patient Control #;
- scheduled maintenance windows (UTC) answer HTTP 503 on every page, the iframe included;
- a captcha interstitial replaces the results after "unusual activity" (the harness switch);
- layout version 2 restructures the search frame (renamed ids, a div grid instead of a table).
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sandbox.formats import mdy, money, parse_mdy
from sandbox.pdf import letter_pdf
from sandbox.state import PortalSessionRecord, PortalState
from sandbox.world import Authorization, Claim, claim_number_reference, search_reference

COOKIE = "CBSESSION"
LOGIN_COOKIE = "CBLOGIN"
RESULTS_PER_PAGE = 10
AUTHS_PER_PAGE = 10
LETTERS_PER_PAGE = 15
SUBSCRIBER_WINDOW_DAYS = 180
DEFAULT_MAINTENANCE_END = "06:00"  # shown when the harness flag (not a window) is on

# (code, display name, enrolled): the account is enrolled with Lakeside only.
PAYERS = [
    ("LHC", "Lakeside Health Cooperative", True),
    ("PVH", "Prairie Valley Health Plan", False),
    ("CSB", "Coastal Shield Benefits", False),
    ("GRA", "Granite Ridge Assurance", False),
]
# Clearinghouse (X12-flavoured) wording; "unlisted_wording" is on no help page.
STATUS_WORDING = {
    "received": "Acknowledged/Received",
    "accepted": "Accepted - Forwarded to Payer",
    "in_process": "Pending - In Process",
    "medical_review": "Pending - Payer Review",
    "pended_records": "Pending - Requested Information Not Received",
    "documentation_requested": "Request for Additional Documentation",
    "paid": "Finalized - Paid",
    "partially_paid": "Finalized - Paid (Adjusted Amount)",
    "crossover": "Finalized - Paid; Forwarded to Secondary",
    "adjusted": "Finalized - Revised",
    "no_payment": "Finalized - Zero Payment",
    "denied": "Finalized - Denied",
    "rejected_invalid": "Rejected - Subscriber Not Found",
    "rejected_missing": "Rejected - Invalid Data",
    "unlisted_wording": "Held - Coordination Pending",
}
AUTH_WORDING = {"approved": "Certified", "pended": "Pended", "denied": "Not Certified",
                "partially_approved": "Modified"}
NO_RESULTS = "0 claims found for the criteria entered."
LOGIN_FAILED = "Login failed. Please verify your credentials."
DISABLED = "This user has been disabled. Contact your ClaimBridge administrator."
EXPIRED = "Your session expired due to inactivity."
NOT_ENROLLED = "You are not enrolled with this payer."
CAPTCHA_TEXT = "Unusual activity detected. Please verify you are human."
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# A fake "image" captcha: distorted letters drawn as SVG (nobody needs to read it; any answer clears it).
_CAPTCHA_IMG = ("data:image/svg+xml;utf8," + quote(
    "<svg xmlns='http://www.w3.org/2000/svg' width='160' height='50'>"
    "<rect width='160' height='50' fill='#eee'/>"
    "<text x='12' y='34' font-size='28' transform='skewX(-12)' fill='#555'>x7Qk2</text>"
    "<line x1='0' y1='10' x2='160' y2='40' stroke='#999'/></svg>"))





def _in_window(now: str, start: str, end: str) -> bool:
    """Whether HH:MM `now` lies in [start, end), windows may wrap past midnight."""
    return start <= now < end if start <= end else (now >= start or now < end)


def create_app(state: PortalState) -> FastAPI:
    """The ClaimBridge portal over one PortalState (mounted at /claimbridge by the sandbox server)."""
    app = FastAPI(title="ClaimBridge", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
    templates.env.filters["money"] = money
    templates.env.filters["mdy"] = mdy
    state.claimbridge_maintenance_windows = []  # list[tuple[str, str]] of "HH:MM" UTC pairs
    login_tokens: set[str] = set()
    world = state.world
    payer_id = state.profile.payer_id

    def root(request: Request) -> str:
        return request.scope.get("root_path", "")

    def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        context.update(root=root(request), layout=state.layout_version)
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def redirect(request: Request, path: str, **query: str | int) -> RedirectResponse:
        suffix = f"?{urlencode(query)}" if query else ""
        return RedirectResponse(f"{root(request)}{path}{suffix}", status_code=303)

    def maintenance_end() -> str | None:
        now = datetime.now(UTC).strftime("%H:%M")
        for start, end in state.claimbridge_maintenance_windows:
            if _in_window(now, start, end):
                return end
        return DEFAULT_MAINTENANCE_END if state.maintenance else None

    @app.middleware("http")
    async def maintenance_gate(request: Request, call_next):
        # Every page, the iframe included, answers 503 during maintenance; the sandbox-only
        # /_test/ switches stay reachable so a window can be set and cleared.
        end = maintenance_end()
        if end is not None and "/_test/" not in request.url.path:
            return render(request, "maintenance.html", status_code=503, end=end)
        return await call_next(request)

    def current(request: Request, *, need_payer: bool = True) -> tuple[str, PortalSessionRecord] | Response:
        """The caller's session, or a redirect: to login (with the idle-expiry notice) or to the picker."""
        token = request.cookies.get(COOKIE)
        record = state.session(token)
        if record is None:
            return redirect(request, "/login", expired=1) if token else redirect(request, "/login")
        if need_payer and record.data.get("payer") != "LHC":
            return redirect(request, "/payers")
        return token, record

    # -- login ------------------------------------------------------------------------------------------
    @app.get("/")
    def home(request: Request) -> Response:
        return redirect(request, "/workspace")

    def login_page(request: Request, *, error: str | None = None, notice: str | None = None,
                   status_code: int = 200) -> HTMLResponse:
        csrf = secrets.token_urlsafe(16)
        login_tokens.add(csrf)
        response = render(request, "login.html", status_code=status_code, csrf=csrf, error=error,
                          notice=notice)
        response.set_cookie(LOGIN_COOKIE, csrf, path=f"{root(request)}/", httponly=True, samesite="lax")
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, expired: int = 0) -> HTMLResponse:
        return login_page(request, notice=EXPIRED if expired else None)

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""),
              csrf: str = Form("")) -> Response:
        if not csrf or csrf != request.cookies.get(LOGIN_COOKIE) or csrf not in login_tokens:
            return login_page(request, error="Your login form expired. Please try again.", status_code=400)
        login_tokens.discard(csrf)
        result = state.check_password(username.strip(), password)
        if state.faults.login_captcha:  # the credentials were posted (and counted); a captcha answers
            return render(request, "login_captcha.html", message=CAPTCHA_TEXT, image=_CAPTCHA_IMG)
        if state.faults.login_layout == 2:  # the posted form leads to a sign-in page no adapter knows yet
            return render(request, "login_v2.html", csrf=secrets.token_urlsafe(16), error=None)
        if result == "locked":
            return login_page(request, error=DISABLED, status_code=403)
        if result != "ok":
            return login_page(request, error=LOGIN_FAILED, status_code=401)
        token = state.new_session(username.strip())
        response = redirect(request, "/payers")
        response.set_cookie(COOKIE, token, path=f"{root(request)}/", httponly=True, samesite="lax")
        response.delete_cookie(LOGIN_COOKIE, path=f"{root(request)}/")
        return response

    @app.get("/logout")
    def logout(request: Request) -> Response:
        state.end_session(request.cookies.get(COOKIE))
        response = redirect(request, "/login")
        response.delete_cookie(COOKIE, path=f"{root(request)}/")
        return response

    # -- payer picker -------------------------------------------------------------------------------------
    @app.get("/payers")
    def payers(request: Request) -> Response:
        found = current(request, need_payer=False)
        if isinstance(found, Response):
            return found
        return render(request, "payers.html", payers=PAYERS, csrf=found[1].csrf_token, error=None)

    @app.post("/payers")
    def pick_payer(request: Request, payer: str = Form(""), csrf: str = Form("")) -> Response:
        found = current(request, need_payer=False)
        if isinstance(found, Response):
            return found
        record = found[1]
        if csrf != record.csrf_token:
            return render(request, "payers.html", status_code=400, payers=PAYERS, csrf=record.csrf_token,
                          error="Your request could not be verified. Please try again.")
        enrolled = {code: ok for code, _name, ok in PAYERS}
        if not enrolled.get(payer):
            record.data.pop("payer", None)
            return render(request, "payers.html", payers=PAYERS, csrf=record.csrf_token, error=NOT_ENROLLED)
        record.data["payer"] = payer
        return redirect(request, "/workspace", tab="claims")

    # -- workspace (tabs) -----------------------------------------------------------------------------------
    def paginate(items: list, page: int, per_page: int) -> tuple[list, int, int]:
        pages = max(1, math.ceil(len(items) / per_page))
        page = min(max(1, page), pages)
        return items[(page - 1) * per_page: page * per_page], page, pages

    @app.get("/workspace")
    def workspace(request: Request, tab: str = "claims", page: int = 1, date_from: str = "") -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        context: dict = {"tab": tab if tab in ("claims", "authorizations", "letters") else "claims",
                         "payer_name": PAYERS[0][1], "username": found[1].username}
        if context["tab"] == "authorizations":
            rows, page, pages = paginate(state.authorizations_for(found[1].username), page, AUTHS_PER_PAGE)
            context.update(auths=rows, page=page, pages=pages, wording=AUTH_WORDING)
        elif context["tab"] == "letters":
            letters = state.letters_for(found[1].username)
            error = None
            since = parse_mdy(date_from) if date_from else None
            if date_from and since is None:
                error = "Enter the date as MM/DD/YYYY."
            if since:
                letters = [letter for letter in letters if letter.letter_date >= since]
            rows, page, pages = paginate(letters, page, LETTERS_PER_PAGE)
            context.update(letters=rows, page=page, pages=pages, date_from=date_from, error=error,
                           total=len(letters))
        return render(request, "workspace.html", **context)

    @app.get("/workspace/authorizations/{auth_number}")
    def authorization(request: Request, auth_number: str) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        auth: Authorization | None = next(
            (a for a in state.authorizations_for(found[1].username) if a.auth_number == auth_number), None)
        if auth is None:
            return render(request, "workspace.html", status_code=404, tab="authorizations", auths=[], page=1,
                          pages=1, wording=AUTH_WORDING, payer_name=PAYERS[0][1], username=found[1].username,
                          error="Authorization not found.")
        return render(request, "auth_detail.html", auth=auth, wording=AUTH_WORDING, payer_name=PAYERS[0][1])

    @app.get("/letters/{letter_id}/download")
    def download(request: Request, letter_id: str) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        letter = next((x for x in state.letters_for(found[1].username) if x.letter_id == letter_id), None)
        if letter is None:
            return Response("Document not found.", status_code=404, media_type="text/plain")
        with state.lock:
            state.stats["letter_downloads"] += 1
        # The awkward stored name goes out as-is (spaces, "../", "(1)"), plus an RFC 5987 form.
        fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in letter.file_name)
        encoded = quote(letter.file_name, safe="")
        disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
        return Response(letter_pdf(letter, state.profile.name), media_type="application/pdf",
                        headers={"Content-Disposition": disposition})

    # -- claim search frame ------------------------------------------------------------------------------
    def on_file(claim: Claim) -> bool:
        return claim.on_file and claim.payer_claim_number is not None

    @app.get("/frames/claim-search")
    def search_form(request: Request) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        return render(request, "frame_search.html", csrf=found[1].csrf_token, error=None, values={})

    @app.post("/frames/claim-search")
    def search(request: Request, payer_claim_id: str = Form(""), subscriber_id: str = Form(""),
               service_date: str = Form(""), csrf: str = Form("")) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        token, record = found
        values = {"payer_claim_id": payer_claim_id, "subscriber_id": subscriber_id,
                  "service_date": service_date}

        def form_error(message: str) -> HTMLResponse:
            return render(request, "frame_search.html", status_code=400, csrf=record.csrf_token,
                          error=message, values=values)

        if csrf != record.csrf_token:
            return form_error("Your request could not be verified. Please try again.")
        icn, member = payer_claim_id.strip().upper(), subscriber_id.strip().upper()
        dos = parse_mdy(service_date) if service_date.strip() else None
        if not icn and not (member and service_date.strip()):
            return form_error("Enter a Payer Claim ID, or a Subscriber ID and a Service Date.")
        if not icn and dos is None:
            return form_error("Service Date must be entered as MM/DD/YYYY.")
        if state.count_search(token):
            # The interstitial replaces the results: the search is not performed.
            return render(request, "frame_captcha.html", csrf=record.csrf_token, image=_CAPTCHA_IMG,
                          message=CAPTCHA_TEXT, error=None)
        mine = state.claims_for(record.username)  # another practice's claims are not found
        if icn:
            matches = [c for c in mine if on_file(c) and c.payer_claim_number == icn]
            txn = claim_number_reference(payer_id, icn)
        else:
            window = timedelta(days=SUBSCRIBER_WINDOW_DAYS)
            matches = [c for c in mine if on_file(c) and c.member.member_id == member
                       and abs(c.date_of_service - dos) <= window]
            txn = search_reference(payer_id, member, dos)
        matches.sort(key=lambda c: (-c.date_of_service.toordinal(), c.payer_claim_number))
        sid = secrets.token_hex(6)
        searches = record.data.setdefault("searches", {})
        searches[sid] = {"claims": [c.claim_number for c in matches], "txn": txn}
        while len(searches) > 20:  # keep the session small
            searches.pop(next(iter(searches)))
        return redirect(request, "/frames/claim-search/results", sid=sid, page=1)

    @app.get("/frames/claim-search/results")
    def results(request: Request, sid: str = "", page: int = 1) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        saved = found[1].data.get("searches", {}).get(sid)
        if saved is None:
            return redirect(request, "/frames/claim-search")
        claims = [world.claim(number) for number in saved["claims"]]
        shown = [c for c in claims if c is not None and on_file(c)]
        rows, page, pages = paginate(shown, page, RESULTS_PER_PAGE)
        with state.lock:
            state.stats["claimbridge_result_pages"] += 1
        return render(request, "frame_results.html", rows=rows, page=page, pages=pages, sid=sid,
                      txn=saved["txn"], total=len(saved["claims"]), wording=STATUS_WORDING,
                      no_results=NO_RESULTS)

    @app.get("/frames/claims/{icn}")
    def claim_detail(request: Request, icn: str, sid: str = "", page: int = 1) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        token, record = found
        claim = next((c for c in state.claims_for(record.username) if on_file(c) and c.payer_claim_number == icn),
                     None)
        if claim is None:
            return render(request, "frame_search.html", status_code=404, csrf=record.csrf_token,
                          error="Claim not found.", values={})
        state.record_lookup(claim, record.username, token)
        finalized_on = claim.adjudication_date
        effective = finalized_on or min(claim.submitted_date + timedelta(days=2), world.today)
        if claim.outcome == "received":
            effective = claim.submitted_date
        return render(request, "frame_detail.html", claim=claim, status=STATUS_WORDING[claim.outcome],
                      effective=effective, sid=sid, page=page, adjudicated=finalized_on is not None)

    @app.post("/frames/captcha")
    def captcha(request: Request, answer: str = Form(""), csrf: str = Form("")) -> Response:
        found = current(request)
        if isinstance(found, Response):
            return found
        token, record = found
        with state.lock:
            state.stats["captcha_answers"] += 1  # tests check that bots never answer one
        if csrf != record.csrf_token or not answer.strip():
            return render(request, "frame_captcha.html", status_code=400, csrf=record.csrf_token,
                          image=_CAPTCHA_IMG, message=CAPTCHA_TEXT, error="Please type the characters shown.")
        # Any answer passes (a human solved it); the activity counter starts over.
        with state.lock:
            state.captcha_pending.discard(token)
            state.searches_since_captcha = 0
        return redirect(request, "/frames/claim-search")

    # -- sandbox-only switches ---------------------------------------------------------------------------
    @app.post("/_test/maintenance-window/{start}/{end}", response_model=None)
    def set_window(start: str, end: str) -> Response | dict:
        if not (_HHMM.match(start) and _HHMM.match(end)):
            return Response("times are HH:MM (UTC)", status_code=400, media_type="text/plain")
        state.claimbridge_maintenance_windows = [(start, end)]
        return {"maintenance_windows": state.claimbridge_maintenance_windows}

    @app.delete("/_test/maintenance-window")
    def clear_windows() -> dict:
        state.claimbridge_maintenance_windows = []
        return {"maintenance_windows": []}

    return app
