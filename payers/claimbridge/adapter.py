"""ClaimBridge (clearinghouse) adapter for Lakeside Health Cooperative: payer picker, tabs, iframe search."""

from __future__ import annotations

import re
import time
from datetime import date

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import FrameLocator, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.adapter import PortalAdapter, PortalSession
from bots.downloads import download_letter
from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MaintenanceWindow,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import AuthorizationFinding, ClaimQuery, ClaimStatusFinding, CorrespondenceFinding
from bots.parsing import clean_text, optional_text, parse_codes, parse_date, parse_int, parse_money
from payers.claimbridge import pages
from payers.claimbridge.pages import LoginPage, PayerPicker, SearchFrame, Workspace

DEFAULT_PAYER = "Lakeside Health Cooperative"
AUTH_STATUSES = {"certified": "approved", "pended": "pended", "not certified": "denied",
                 "modified": "partially_approved"}
_TRANSACTION = re.compile(r"Transaction ID:\s*(SR\d+)")
MAINTENANCE = "#cbMaintenance"
LOGIN_CAPTCHA = "#cbLoginCaptcha"


class ClaimBridgeAdapter(PortalAdapter):
    """Works the ClaimBridge clearinghouse portal for one enrolled payer (the credential's `payer_name`)."""

    def __init__(self, session: PortalSession):
        super().__init__(session)
        self._server_error: int | None = None
        # The claim search runs inside an iframe, so a 5xx there never reaches `goto`: watch responses.
        self.page.on("response", self._note_response)

    def _note_response(self, response: Response) -> None:
        if response.status >= 500 and response.request.resource_type == "document":
            self._server_error = response.status

    @property
    def payer_name(self) -> str:
        """The payer to pick on ClaimBridge's 'Select a payer' page."""
        return self.session.credential.options.get("payer_name", DEFAULT_PAYER)

    # -- login and navigation -----------------------------------------------------------------------------
    def goto(self, path: str) -> None:
        """Open a page; the 503 maintenance page is a MaintenanceWindow, any other 5xx PortalUnavailable."""
        self._server_error = None
        try:
            super().goto(path)
        except PortalUnavailable:
            self._raise_if_maintenance()
            raise

    def _raise_if_maintenance(self) -> None:
        try:
            shown = self.page.locator(MAINTENANCE).count() > 0
        except PlaywrightError:
            shown = False
        if shown:
            self.fail(MaintenanceWindow, "ClaimBridge shows its scheduled maintenance page")

    def _expect(self, outcomes: dict[str, str], *, timeout_ms: float = 10_000) -> str:
        """Wait for one outcome on the top page; maintenance and a 5xx answer are typed errors at once."""
        everything = {**outcomes, "_maintenance": MAINTENANCE}
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            for key, selector in everything.items():
                if self.page.locator(selector).first.is_visible():
                    if key == "_maintenance":
                        self.fail(MaintenanceWindow, "ClaimBridge shows its scheduled maintenance page")
                    return key
            if self._server_error:
                self.fail(PortalUnavailable, f"ClaimBridge answered HTTP {self._server_error}")
            if time.monotonic() > deadline:
                self.fail(PortalChanged, f"none of the expected outcomes appeared: {sorted(outcomes)}")
            self.page.wait_for_timeout(100)

    def is_logged_in(self) -> bool:
        """Open the workspace: a live session lands there (or on the picker); a dead one on the login page."""
        self.goto("workspace")
        where = self._expect({"workspace": Workspace.ROOT, "picker": PayerPicker.LIST, "login": LoginPage.FORM})
        if where == "picker":  # logged in, but the portal forgot (or never had) the payer choice
            self._pick_payer()
        return where != "login"

    def login(self) -> None:
        """Sign in once, then pick the payer; refusals raise LoginFailed / AccountLocked, never retried."""
        self.goto("login")
        self._expect({"login": LoginPage.FORM})
        self.page.fill(LoginPage.USERNAME, self.session.credential.username)
        self.page.fill(LoginPage.PASSWORD, self.session.credential.password.get_secret_value())
        self._server_error = None
        self.credentials_submitted()
        self.page.click(LoginPage.SUBMIT)
        # An unknown page after the password (a new sign-in step) is PortalChanged.
        where = self._expect({"picker": PayerPicker.LIST, "workspace": Workspace.ROOT, "error": LoginPage.ERROR,
                              "captcha": LOGIN_CAPTCHA})
        if where == "captcha":  # never solved by a bot: a person has to clear it
            self.fail(CaptchaChallenge, "ClaimBridge put up a captcha after the password")
        if where == "error":
            message = clean_text(self.page.locator(LoginPage.ERROR).first.inner_text())
            if "disabled" in message.lower() or "locked" in message.lower():
                self.fail(AccountLocked, message)
            if "login failed" in message.lower():
                self.fail(LoginFailed, message)
            self.fail(PortalChanged, "unrecognised login error banner")
        if where == "picker":
            self._pick_payer()

    def _pick_payer(self) -> None:
        button = self.page.locator(PayerPicker.LIST).get_by_role("button", name=self.payer_name, exact=True)
        if button.count() == 0:
            self.fail(PortalError, f"payer {self.payer_name!r} is not listed on ClaimBridge's payer picker")
        self._server_error = None
        button.click()
        if self._expect({"workspace": Workspace.ROOT, "error": PayerPicker.ERROR}) == "error":
            message = clean_text(self.page.locator(PayerPicker.ERROR).first.inner_text())
            self.fail(PortalError, f"ClaimBridge refused payer {self.payer_name!r}: {message}")

    def _open_tab(self, label: str) -> None:
        """Open the workspace and switch to a tab; a login page here means the session ended."""
        if not self.is_logged_in():
            self.fail(SessionExpired, "ClaimBridge session ended: back at the login page")
        panel = Workspace.PANELS[label]
        if not self.page.locator(panel).is_visible():
            self.page.locator(Workspace.TABS).get_by_role("link", name=label, exact=True).click()
        self._expect({"panel": panel})

    def _frame_expect(self, frame: FrameLocator, outcomes: dict[str, str], *, timeout_ms: float = 8_000
                      ) -> str:
        """Like expect_one_of, inside the search iframe; interstitials there become typed errors."""
        common = {"maintenance": SearchFrame.MAINTENANCE, "captcha": SearchFrame.CAPTCHA,
                  "login": SearchFrame.LOGIN}
        everything = {**outcomes, **common}
        try:
            frame.locator(", ".join(everything.values())).first.wait_for(state="visible", timeout=timeout_ms)
        except PlaywrightTimeout:
            if self._server_error:
                self.fail(PortalUnavailable, f"ClaimBridge answered HTTP {self._server_error} in its frame")
            self.fail(PortalChanged, f"none of the expected frame outcomes appeared: {sorted(outcomes)}")
        where = next((key for key, sel in everything.items() if frame.locator(sel).first.is_visible()), None)
        if where == "maintenance":
            self.fail(MaintenanceWindow, "ClaimBridge maintenance page in the search frame")
        if where == "captcha":  # never solved by a bot: a person has to clear it
            self.fail(CaptchaChallenge, "ClaimBridge put up a captcha instead of search results")
        if where == "login":
            self.fail(SessionExpired, "ClaimBridge session ended: login page inside the search frame")
        if where is None:
            self.fail(PortalChanged, "search-frame outcome vanished before it could be read")
        return where

    # -- claim status -------------------------------------------------------------------------------------
    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Search by ICN (or subscriber + service date), walk result pages, read the matching claim."""
        self._open_tab("Claim Status")
        frame = self.page.frame_locator(SearchFrame.IFRAME)
        self._frame_expect(frame, {"form": SearchFrame.FORM}, timeout_ms=4_000)  # layout 2 renamed the form
        if claim.payer_claim_number:
            frame.locator(SearchFrame.ICN).fill(claim.payer_claim_number)
        else:
            frame.locator(SearchFrame.SUBSCRIBER).fill(claim.member_id)
            frame.locator(SearchFrame.SERVICE_DATE).fill(f"{claim.date_of_service:%m/%d/%Y}")
        self._server_error = None
        frame.locator(SearchFrame.SUBMIT).click()
        where = self._frame_expect(frame, {"results": SearchFrame.RESULTS, "empty": SearchFrame.NO_RESULTS,
                                           "error": SearchFrame.FORM_ERROR})
        if where == "error":
            self.fail(PortalError, "ClaimBridge refused the search criteria")
        found = _TRANSACTION.search(clean_text(frame.locator(SearchFrame.TRANSACTION).first.inner_text()))
        if found is None:
            self.fail(PortalChanged, "no Transaction ID on the search results")
        transaction, seen, page_no = found.group(1), 0, 1
        while where == "results":
            rows = pages.read_table(frame.locator(SearchFrame.RESULTS))
            if rows and "Patient Control #" not in rows[0]:
                self.fail(PortalChanged, "results table has no 'Patient Control #' column")
            seen += len(rows)
            ours = [r["Patient Control #"] == claim.claim_number for r in rows]
            if any(ours):
                frame.locator(SearchFrame.ROWS).nth(ours.index(True)).locator("a").first.click()
                self._frame_expect(frame, {"detail": SearchFrame.DETAIL})
                return self._claim_detail(frame, claim)
            if frame.locator(SearchFrame.NEXT).count() == 0:
                break
            page_no += 1
            frame.locator(SearchFrame.NEXT).click()
            self._frame_expect(frame, {"results": SearchFrame.page_info(page_no)})
        if where == "empty":
            raw = clean_text(frame.locator(SearchFrame.NO_RESULTS).inner_text())
            category = self.map_status(raw)
        else:  # results came back, none of them ours: the claim is not on file either
            raw, category = f"{seen} claim(s) found; none with this Patient Control #", "D0"
        return ClaimStatusFinding(claim_number=claim.claim_number, raw_status=raw, status_category=category,
                                  reference_number=transaction, provenance=self.provenance(raw))

    def _claim_detail(self, frame: FrameLocator, claim: ClaimQuery) -> ClaimStatusFinding:
        data = pages.read_claim_detail(frame.locator(SearchFrame.DETAIL))
        if data["status"] is None or data["lines"] is None or clean_text(data["pcn"]) != claim.claim_number:
            self.fail(PortalChanged, "claim detail is missing its status, lines or Patient Control #")
        raw = clean_text(data["status"])
        lines = [pages.parse_service_line(row) for row in data["lines"]]
        adjustments = [adj for line in lines for adj in line.adjustments]
        pay_type = optional_text(data["pay_type"])
        return ClaimStatusFinding(
            claim_number=claim.claim_number, payer_claim_number=clean_text(data["icn"]), raw_status=raw,
            status_category=self.map_status(raw), reference_number=clean_text(data["icn"]),
            billed=parse_money(data["charges"]), allowed=parse_money(data["allowed"]),
            paid=parse_money(data["paid"]), patient_responsibility=parse_money(data["patient"]),
            adjudication_date=parse_date(data["processed"]),
            payment_method=pages.PAYMENT_TYPES.get(pay_type.lower(), pay_type) if pay_type else None,
            check_number=optional_text(data["pay_number"]), payment_date=parse_date(data["pay_date"]),
            pending_reason=optional_text(data["pend"]),
            crossover_payer=pages.crossover_payer(data["crossover"]),
            carc_codes=pages.unique(adj.carc for adj in adjustments),
            rarc_codes=pages.unique(code for line in lines for code in line.rarc_codes),
            adjustments=adjustments, service_lines=lines, provenance=self.provenance(raw),
        )

    # -- letters ------------------------------------------------------------------------------------------
    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[CorrespondenceFinding]:
        """Letters tab: filter by date, walk pages, download each new letter once, saved by its SHA-256."""
        self._open_tab("Letters")
        if since is not None:
            self.page.fill(Workspace.LETTER_FROM, f"{since:%m/%d/%Y}")
            with self.page.expect_navigation():
                self.page.click(Workspace.LETTER_APPLY)
        found: list[CorrespondenceFinding] = []
        seen = set(known_ids)
        for _page_no in self._pages(Workspace.LETTER_NEXT, Workspace.LETTER_PAGE):
            table = self.page.locator(Workspace.LETTER_TABLE)
            for index, row in enumerate(pages.read_table(table)):
                letter_date = parse_date(row["Letter Date"])
                if row["Document ID"] in seen or (since and letter_date and letter_date < since):
                    continue
                link = table.locator("tbody tr").nth(index).get_by_role("link", name="Download")
                stored = download_letter(self, link.click, after_failure=self._after_failed_download)
                seen.add(row["Document ID"])
                found.append(CorrespondenceFinding(
                    portal_document_id=row["Document ID"], title=row["Title"], letter_date=letter_date,
                    suggested_file_name=row["File Name"] or stored.suggested_filename,
                    file_path=str(stored.path), sha256=stored.sha256, provenance=self.provenance(row["Title"])))
        return found

    def _after_failed_download(self) -> None:
        """A failed letter download that left the maintenance or login page up is a typed error."""
        self._raise_if_maintenance()
        if self.page.locator(LoginPage.FORM).count():
            self.fail(SessionExpired, "ClaimBridge session ended: back at the login page")

    def _pages(self, next_link: str, page_info: str):
        """Yield page numbers of a paginated workspace table, clicking Next in between."""
        page_no = 1
        while True:
            yield page_no
            if self.page.locator(next_link).count() == 0:
                return
            page_no += 1
            self._server_error = None
            self.page.click(next_link)
            self._expect({"page": f"{page_info}:text-matches('^Page {page_no} ')"})

    # -- authorizations -----------------------------------------------------------------------------------
    def pull_authorizations(self) -> list[AuthorizationFinding]:
        """Authorizations tab: collect every row's detail link over all pages, then read each detail."""
        self._open_tab("Authorizations")
        links = [row["_href"] for _ in self._pages(Workspace.AUTH_NEXT, Workspace.AUTH_PAGE)
                 for row in pages.read_table(self.page.locator(Workspace.AUTH_TABLE))]
        findings = []
        for href in links:
            self.goto(href)
            if self._expect({"detail": Workspace.AUTH_DETAIL, "login": LoginPage.FORM}) == "login":
                self.fail(SessionExpired, "ClaimBridge session ended: back at the login page")
            d = pages.read_labelled(self.page.locator(Workspace.AUTH_DETAIL))
            findings.append(AuthorizationFinding(
                auth_number=d["Authorization #"], member_id=d["Member ID"], service=d["Service"],
                procedure_codes=parse_codes(d["Procedure Codes"]), raw_status=d["Status"],
                provider=optional_text(d["Servicing Provider"]), facility=optional_text(d["Facility"]),
                status=AUTH_STATUSES.get(d["Status"].lower()), approved_units=parse_int(d["Units Approved"]),
                used_units=parse_int(d["Units Used"]), start_date=parse_date(d["Effective From"]),
                end_date=parse_date(d["Effective Through"]), requested_date=parse_date(d["Request Date"]),
                decision_date=parse_date(d["Decision Date"]), provenance=self.provenance(d["Status"])))
        return findings
