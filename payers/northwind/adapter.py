"""Northwind Mutual adapter: a single-page app with an e-mailed one-time code and an idle-timeout modal."""

from __future__ import annotations

import time
from datetime import date

from playwright.sync_api import Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.adapter import PortalAdapter, PortalSession
from bots.downloads import download_letter
from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MaintenanceWindow,
    MfaRequired,
    PortalChanged,
    PortalUnavailable,
    SessionExpired,
)
from bots.findings import AuthorizationFinding, ClaimQuery, ClaimStatusFinding, CorrespondenceFinding
from bots.parsing import clean_text, parse_codes, parse_date, parse_int, parse_money
from payers.northwind import pages as P

CODE_WAIT_SECONDS = 20  # how long to wait for the e-mailed code to reach the mailbox reader
DOWNLOAD_SPACING = 0.15  # seconds between download clicks (Chromium throttles bursts per frame)


class NorthwindAdapter(PortalAdapter):
    """Drives the Northwind Mutual SPA by its rendered DOM (data-testid attributes)."""

    def __init__(self, session: PortalSession):
        super().__init__(session)
        self._last_download = 0.0
        # The SPA's idle timer puts a modal over the page at any moment; Playwright dismisses it
        # before any action it would block, so no step has to know about it.
        self.page.add_locator_handler(self.page.locator(P.TIMEOUT_MODAL),
                                      lambda _modal: self.page.locator(P.STAY_SIGNED_IN).click())

    # -- navigation --------------------------------------------------------------------------------
    def _open(self, route: str, outcomes: dict[str, str], *, timeout_ms: float = 10_000) -> str:
        """Go to a hash route (same document when the app is already loaded) and wait for its outcome."""
        if self.page.url == self.session.url(route):
            # Same hash again: no hashchange, so the SPA would keep showing the old (stale) rows.
            self.goto("")
        self.goto(route)
        return self._expect(outcomes, timeout_ms=timeout_ms)

    def _expect(self, outcomes: dict[str, str], *, timeout_ms: float = 10_000) -> str:
        """`expect_one_of`, with the sign-in form and the maintenance banner turned into typed errors."""
        key = self.expect_one_of(outcomes, timeout_ms=timeout_ms)
        self._raise_if_interrupted(key)
        return key

    def _raise_if_interrupted(self, key: str | None = None) -> None:
        """Maintenance banner -> MaintenanceWindow; 5xx banner -> PortalUnavailable; sign-in form -> SessionExpired."""
        if key == "maintenance" or (key is None and self.page.locator(P.MAINTENANCE).is_visible()):
            self.fail(MaintenanceWindow, "portal shows its maintenance banner")
        if key == "server_error" or (key is None and self.page.locator(P.SERVER_ERROR).is_visible()):
            self.fail(PortalUnavailable, "portal answered with a server error")
        if key == "login" or (key is None and self.page.locator(P.LOGIN_FORM).is_visible()):
            self.fail(SessionExpired, "portal went back to the sign-in screen")

    def _more_rows(self, rows: Locator) -> bool:
        """Click the visible "Load more" button and wait for more rows; False when there is none."""
        more = self.page.locator(P.LOAD_MORE)
        if more.count() == 0:
            return False
        before = rows.count()
        more.first.click()
        try:
            rows.nth(before).wait_for(state="attached", timeout=10_000)
        except PlaywrightTimeout:
            self._raise_if_interrupted()
            self.fail(PortalChanged, "'Load more' brought no more rows")
        return True

    # -- login -------------------------------------------------------------------------------------
    def is_logged_in(self) -> bool:
        """Open the app and see whether it renders the signed-in navigation or the sign-in form."""
        self.goto("")
        key = self.expect_one_of(P.APP_READY, timeout_ms=8_000)
        if key in ("maintenance", "server_error"):
            self._raise_if_interrupted(key)  # MaintenanceWindow / PortalUnavailable
        return key == "signed_in"

    def login(self) -> None:
        """E-mail and password once, then the one-time code the portal e-mails to the account."""
        if self.is_logged_in():
            return
        credential = self.session.credential
        self.page.locator(P.LOGIN_EMAIL).fill(credential.username)
        self.page.locator(P.LOGIN_PASSWORD).fill(credential.password.get_secret_value())
        sent_after = time.time()
        self.credentials_submitted()
        self.page.locator(P.LOGIN_SUBMIT).click()
        key = self.expect_one_of(P.AFTER_PASSWORD)  # an unknown next step is PortalChanged
        if key in ("maintenance", "server_error"):
            self._raise_if_interrupted(key)
        if key == "captcha":  # never solved by a bot
            self.fail(CaptchaChallenge, "portal put up a captcha after the password")
        if key == "error":
            message = clean_text(self.page.locator(P.LOGIN_ERROR).first.inner_text())
            self.fail(AccountLocked if "locked" in message.lower() else LoginFailed, message)
        # Code screen ("Enter the code we sent to b***@..."): the code is already in the mailbox.
        code = self._wait_for_code(sent_after)
        self.page.locator(P.CODE_INPUT).fill(code)
        self.page.locator(P.CODE_SUBMIT).click()
        self.session.events.append("one_time_code")
        key = self.expect_one_of(P.AFTER_CODE)
        if key in ("maintenance", "server_error"):
            self._raise_if_interrupted(key)
        if key != "signed_in":  # code refused, or the half-signed-in state expired back to the form
            self.fail(MfaRequired, "portal refused the one-time code")

    def _wait_for_code(self, sent_after: float) -> str:
        provider = self.session.one_time_codes
        if provider is None:
            self.fail(MfaRequired, "portal e-mailed a one-time code and no code reader is configured")
        deadline = time.monotonic() + CODE_WAIT_SECONDS
        while time.monotonic() < deadline:
            code = provider.latest_code(self.session.credential, after=sent_after)
            if code:
                return code
            time.sleep(0.5)
        self.fail(MfaRequired, "no one-time code arrived")

    # -- claims ------------------------------------------------------------------------------------
    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Search by claim number (ICN) or member + date of service, then read the claim's detail view."""
        self._open("#/claims", P.SEARCH_FORM)
        by_icn = claim.payer_claim_number or ""
        self.page.locator(P.SEARCH_MEMBER).fill("" if by_icn else claim.member_id)
        self.page.locator(P.SEARCH_DOS).fill("" if by_icn else claim.date_of_service.isoformat())
        self.page.locator(P.SEARCH_CLAIM_NUMBER).fill(by_icn)
        self.page.locator(P.SEARCH_SUBMIT).click()
        key = self._expect(P.SEARCH_OUTCOMES)
        if key == "error":
            self.fail(PortalChanged, "claim search answered with an error")
        reference = P.reference_id(self.text_of(P.SEARCH_REFERENCE))
        if key == "none":
            wording = clean_text(self.text_of(P.NO_RESULTS_TEXT))
            return self._not_found(claim, wording, self.map_status(wording), reference)
        rows = self.page.locator(P.CARD)
        while True:  # results arrive five at a time; the practice's claim may be on a later page
            accounts = [clean_text(t) for t in rows.locator(P.CARD_ACCOUNT).all_inner_texts()]
            if claim.claim_number in accounts:
                break
            if not self._more_rows(rows):
                return self._not_found(claim, f"{len(accounts)} result(s), none for this patient account",
                                       "D0", reference)
        card = rows.nth(accounts.index(claim.claim_number))
        icn = clean_text(card.locator(P.CARD_ICN).inner_text())
        card.locator(P.CARD_OPEN).click()
        if self._expect(P.DETAIL) == "missing":
            self.fail(PortalChanged, "claim detail missing for a listed claim")
        return self._read_detail(claim, icn)

    def _not_found(self, claim: ClaimQuery, wording: str, category: str | None,
                   reference: str | None) -> ClaimStatusFinding:
        return ClaimStatusFinding(
            claim_number=claim.claim_number, payer_claim_number=claim.payer_claim_number, raw_status=wording,
            status_category=category, reference_number=reference,
            provenance=self.provenance(f"{wording} Reference ID: {reference}"))

    def _read_detail(self, claim: ClaimQuery, icn: str) -> ClaimStatusFinding:
        detail = self.page.locator(P.tid("claim-detail"))
        fields = P.cells(detail, P.DETAIL_FIELDS)
        if fields["claim-detail-icn"] != icn or fields["claim-detail-account"] != claim.claim_number:
            self.fail(PortalChanged, "claim detail does not show the claim that was opened")
        wording = clean_text(self.text_of(P.STATUS_CHIP, within=P.tid("claim-detail")))
        description = P.cell(detail, "claim-status-description") or ""
        lines = P.service_lines(detail)
        adjustments = [adj for line in lines for adj in line.adjustments]
        method = fields["payment-method"]
        return ClaimStatusFinding(
            claim_number=claim.claim_number, payer_claim_number=icn, reference_number=icn, raw_status=wording,
            status_category=self.map_status(wording),  # unknown wording stays None, never guessed
            billed=parse_money(fields["claim-billed"]), allowed=parse_money(fields["claim-allowed"]),
            paid=parse_money(fields["claim-paid"]),
            patient_responsibility=parse_money(fields["claim-patient-resp"]),
            adjudication_date=P.display_date(fields["claim-processed-date"]),
            payment_method=P.PAYMENT_METHODS.get(method.lower(), method) if method else None,
            check_number=fields["payment-reference"], payment_date=P.display_date(fields["payment-date"]),
            pending_reason=fields["claim-pending-reason"],
            carc_codes=parse_codes(" ".join(adj.carc for adj in adjustments)),
            rarc_codes=parse_codes(" ".join(code for line in lines for code in line.rarc_codes)),
            adjustments=adjustments, service_lines=lines, crossover_payer=P.crossover_payer(fields["claim-cob"]),
            provenance=self.provenance(f"{wording}. {description}".strip(), screenshot=True),
        )

    # -- documents ---------------------------------------------------------------------------------
    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[CorrespondenceFinding]:
        """Download every letter dated on or after `since` that is not in `known_ids`, once each."""
        route = f"#/documents?since={since.isoformat()}" if since else "#/documents"
        key = self._open(route, P.DOCUMENTS)
        if key == "error":
            self.fail(PortalChanged, "document center answered with an error")
        if key == "empty":
            return []
        rows = self.page.locator(P.DOCUMENT_ROW)
        while self._more_rows(rows):
            pass
        findings: list[CorrespondenceFinding] = []
        seen = set(known_ids)
        for row in rows.all():
            doc_id = P.cell(row, "document-id")
            if not doc_id:
                self.fail(PortalChanged, "document row without an id")
            if doc_id in seen:
                continue
            seen.add(doc_id)
            stored = download_letter(self, self._spaced_click(row.locator(P.DOCUMENT_DOWNLOAD)),
                                     after_failure=self._raise_if_interrupted, start_timeout_s=10)
            findings.append(CorrespondenceFinding(
                portal_document_id=doc_id, title=P.cell(row, "document-title") or "",
                letter_date=P.display_date(P.cell(row, "document-date")),
                suggested_file_name=stored.suggested_filename, file_path=str(stored.path), sha256=stored.sha256,
                provenance=self.provenance(P.cell(row, "document-title")),
            ))
        return findings

    def _spaced_click(self, link: Locator):
        """A click on a download link, spaced from the last one: Chromium silently drops downloads a page
        starts faster than ~10 a second (a click that starts nothing is retried by bots.downloads)."""
        def click() -> None:
            time.sleep(max(0.0, self._last_download + DOWNLOAD_SPACING - time.monotonic()))
            self._last_download = time.monotonic()
            link.click()
        return click

    # -- authorizations ----------------------------------------------------------------------------
    def pull_authorizations(self) -> list[AuthorizationFinding]:
        """Every authorization in the portal's list (the list shows every field the detail view does)."""
        if self._open("#/authorizations", P.AUTHORIZATIONS) == "empty":
            return []
        findings = []
        for row in self.page.locator(P.AUTH_ROW).all():
            text = P.cells(row, ["auth-number", "auth-member", "auth-service", "auth-codes", "auth-provider",
                                 "auth-facility", "auth-status", "auth-approved-units", "auth-used-units",
                                 "auth-start", "auth-end", "auth-requested", "auth-decided"])
            if not text["auth-number"] or not text["auth-status"]:
                self.fail(PortalChanged, "authorization row without a number or status")
            findings.append(AuthorizationFinding(
                auth_number=text["auth-number"], member_id=text["auth-member"] or "",
                service=text["auth-service"] or "", procedure_codes=parse_codes(text["auth-codes"]),
                provider=text["auth-provider"], facility=text["auth-facility"],
                raw_status=text["auth-status"], status=P.AUTH_STATUSES.get(text["auth-status"].lower()),
                approved_units=parse_int(text["auth-approved-units"]),
                used_units=parse_int(text["auth-used-units"]),
                start_date=parse_date(text["auth-start"]), end_date=parse_date(text["auth-end"]),
                requested_date=parse_date(text["auth-requested"]),
                decision_date=parse_date(text["auth-decided"]),
                provenance=self.provenance(text["auth-status"]),
            ))
        return findings
