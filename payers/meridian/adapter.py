"""Meridian Health Plan: a classic server-rendered portal (TOTP, CSRF forms, search-then-detail claims)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from bots import errors as err
from bots.adapter import PortalAdapter
from bots.downloads import download_letter
from bots.findings import (
    AuthorizationFinding,
    ClaimQuery,
    ClaimStatusFinding,
    CorrespondenceFinding,
    RecordsPacket,
    UploadConfirmation,
)
from bots.parsing import clean_text, optional_text, parse_codes, parse_date, parse_money
from payers.meridian import pages as ui


class MeridianAdapter(PortalAdapter):
    """Meridian's provider portal: every capability, one page at a time."""

    # -- login ------------------------------------------------------------------------------------------
    def is_logged_in(self) -> bool:
        """Home shows a logout link when the saved session is alive; otherwise the portal shows its login."""
        self.goto("home")
        return self.expect_one_of({"in": ui.Common.logout, "out": ui.LoginPage.form}) == "in"

    def login(self) -> None:
        """User ID + password, then the authenticator code with "remember this device". Never retried."""
        self.goto(ui.LoginPage.path)
        self._expect({"form": ui.LoginPage.form}, login_page_ok=True)
        self.page.fill(ui.LoginPage.user, self.session.credential.username)
        self.page.fill(ui.LoginPage.password, self.session.credential.password.get_secret_value())
        self.credentials_submitted()
        self._submit(ui.LoginPage.submit)
        # Anything else (a captcha, maintenance, an unknown sign-in page) is a typed error from _expect.
        outcome = self._expect({"bad": ui.LoginPage.bad_credentials, "locked": ui.LoginPage.locked,
                                "mfa": ui.MfaPage.form, "home": ui.Common.logout}, login_page_ok=True)
        if outcome == "bad":
            self.fail(err.LoginFailed, "the portal refused the user id or password")
        if outcome == "locked":
            self.fail(err.AccountLocked, "the portal says the account is locked")
        if outcome == "mfa":
            self.page.fill(ui.MfaPage.code, self.totp_code())
            self.session.events.append("totp")
            self.page.check(ui.MfaPage.remember)  # later logins from this saved context skip the code
            self._submit(ui.MfaPage.submit)
            if self._expect({"home": ui.Common.logout, "refused": ui.MfaPage.refused}) == "refused":
                self.fail(err.MfaRequired, "the portal refused the authenticator code")

    # -- claims -----------------------------------------------------------------------------------------
    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Search by ICN (or member + date of service), pick our row by Patient Account #, read the detail."""
        self.goto(ui.ClaimSearchPage.path)
        self._expect({"form": ui.ClaimSearchPage.member_id})
        if claim.payer_claim_number:
            self.page.fill(ui.ClaimSearchPage.icn, claim.payer_claim_number)
            self._submit(ui.ClaimSearchPage.icn_submit)
        else:
            self.page.fill(ui.ClaimSearchPage.member_id, claim.member_id)
            self.page.fill(ui.ClaimSearchPage.dos_from, f"{claim.date_of_service:%m/%d/%Y}")
            self.page.fill(ui.ClaimSearchPage.dos_to, f"{claim.date_of_service:%m/%d/%Y}")
            self._submit(ui.ClaimSearchPage.member_submit)
        outcome = self._expect({"results": ui.ResultsPage.table, "none": ui.ResultsPage.no_results,
                                "refused": ui.ClaimSearchPage.error})
        if outcome == "refused":
            self.fail(err.PortalChanged, "the portal refused the search form")
        found = ui.REFERENCE.search(self.text_of(ui.ResultsPage.reference))
        if found is None:
            self.fail(err.PortalChanged, "results page shows no inquiry reference")
        link = self._find_row(claim.claim_number) if outcome == "results" else None
        if link is None:
            # Other claims may match the member and date (another visit that day) but ours is not on
            # file: the portal's no-results wording is the status a biller would see for it.
            raw = clean_text(self.text_of(ui.ResultsPage.no_results)) if outcome == "none" else ui.NO_RESULTS
            return ClaimStatusFinding(claim_number=claim.claim_number, raw_status=raw,
                                      status_category=self.map_status(raw), reference_number=found.group(0),
                                      provenance=self.provenance(raw_text=raw))
        self._submit(link)
        return self._read_claim(claim)

    def _find_row(self, claim_number: str) -> Locator | None:
        """The detail link of the row whose Patient Account # is ours, walking the result pages."""
        while True:
            for row in self.page.locator(ui.ResultsPage.rows).all():
                if clean_text(row.locator(ui.ResultsPage.account).inner_text()) == claim_number:
                    return row.locator(ui.ResultsPage.detail_link)
            if self.page.locator(ui.Common.next_page).count() == 0:
                return None
            self._submit(ui.Common.next_page)
            self._expect({"results": ui.ResultsPage.table})

    def _read_claim(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Parse the claim detail page into a finding; anything unreadable means the page changed."""
        p = ui.ClaimDetailPage
        self._expect({"detail": p.header})
        raw = clean_text(self.text_of(p.status))
        if clean_text(self.text_of(p.account)) != claim.claim_number:
            self.fail(err.PortalChanged, "the detail page shows another claim")
        icn = clean_text(self.text_of(p.claim_number))
        # amounts read '-' until the claim is adjudicated; a row that doesn't parse means the grid changed
        lines = [p.service_line([clean_text(text) for text in row.locator("td").all_inner_texts()])
                 for row in self.page.locator(p.lines).all()]
        if not lines or None in lines:
            self.fail(err.PortalChanged, "the service-line grid does not read as before")
        method, number, paid_on = p.parse_payment(clean_text(self.text_of(p.payment)))
        crossover = self._optional(p.crossover)
        adjustments = [adj for line in lines for adj in line.adjustments]
        return ClaimStatusFinding(
            claim_number=claim.claim_number, payer_claim_number=icn, raw_status=raw,
            status_category=self.map_status(raw), reference_number=icn,
            **{name: parse_money(self.text_of(selector)) for name, selector in p.totals.items()},
            adjudication_date=parse_date(self.text_of(p.processed)),
            payment_method=method, check_number=number, payment_date=paid_on,
            pending_reason=self._optional(p.pend_reason),
            carc_codes=list(dict.fromkeys(adj.carc for adj in adjustments)),
            rarc_codes=list(dict.fromkeys(code for line in lines for code in line.rarc_codes)),
            adjustments=adjustments, service_lines=lines,
            crossover_payer=crossover.split("forwarded to:", 1)[-1].strip() if crossover else None,
            provenance=self.provenance(raw_text=raw),
        )

    # -- correspondence -----------------------------------------------------------------------------------
    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[CorrespondenceFinding]:
        """Walk the document center (filtered by date), download each unknown letter once, named by hash."""
        self.goto(ui.DocumentsPage.path + (f"?from={since:%m/%d/%Y}" if since else ""))
        findings: list[CorrespondenceFinding] = []
        seen = set(known_ids)
        while self._expect({"list": ui.DocumentsPage.table, "empty": ui.DocumentsPage.empty,
                            "refused": ui.DocumentsPage.error}) == "list":
            for row in self.page.locator(ui.DocumentsPage.rows).all():
                link = row.locator(ui.DocumentsPage.link)
                match = re.search(r"/documents/([^/]+)/download", link.get_attribute("href") or "")
                if match is None:
                    self.fail(err.PortalChanged, "a document row has no download link")
                if match.group(1) in seen:
                    continue
                seen.add(match.group(1))
                findings.append(self._download(match.group(1), row, link))
            if self.page.locator(ui.Common.next_page).count() == 0:
                return findings
            self._submit(ui.Common.next_page)
        if self.page.locator(ui.DocumentsPage.error).count():
            self.fail(err.PortalChanged, "the portal refused the date filter")
        return findings

    def _download(self, letter_id: str, row: Locator, link: Locator) -> CorrespondenceFinding:
        """Download one letter (bots.downloads: capped, checked, retried, stored once under its sha256)."""
        title = clean_text(row.locator(ui.DocumentsPage.title).inner_text())
        letter_date = parse_date(row.locator(ui.DocumentsPage.date).inner_text())
        stored = download_letter(self, link.click, after_failure=self._interrupted)
        return CorrespondenceFinding(
            portal_document_id=letter_id, title=title, letter_date=letter_date,
            suggested_file_name=stored.suggested_filename, file_path=str(stored.path), sha256=stored.sha256,
            provenance=self.provenance(raw_text=title))

    def _interrupted(self) -> None:
        """After a failed download: the portal's login or maintenance page is a typed error, not a retry."""
        self._raise_if_maintenance()
        if self.page.locator(ui.LoginPage.form).count():
            self.fail(err.SessionExpired, "the portal sent the bot back to its login page")

    # -- attachments --------------------------------------------------------------------------------------
    def upload_records(self, packet: RecordsPacket) -> UploadConfirmation:
        """Attach the packet's PDF to the claim (ICN); the confirmation page screenshot is the evidence."""
        a = ui.AttachmentPage
        self.goto(a.path)
        self._expect({"form": a.form})
        self.page.fill(a.icn, packet.payer_claim_number or "")
        self.page.select_option(a.document_type, label=a.document_types.get(packet.document_type, "Other"))
        # The file goes up under a name carrying the packet id, so the portal's history can be matched later.
        self.page.set_input_files(a.file, {"name": a.file_name(packet.packet_id), "mimeType": "application/pdf",
                                           "buffer": Path(packet.file_path).read_bytes()})
        self._submit(a.submit)
        if self._expect({"ok": a.confirmation, "refused": a.error}) == "refused":
            message = clean_text(self.text_of(a.error))
            error = err.NotFound if a.claim_unknown in message else err.PortalError
            self.fail(error, f"portal refused the file: {message}")
        duplicate = self.page.locator(a.duplicate).count() > 0
        raw = clean_text(self.text_of(a.confirmation))
        return UploadConfirmation(
            packet_id=packet.packet_id, claim_number=packet.claim_number,
            confirmation_number=clean_text(self.text_of(a.confirmation_number)), duplicate_flagged=duplicate,
            provenance=self.provenance(raw_text=raw + (" " + self.text_of(a.duplicate) if duplicate else ""),
                                       screenshot=True))

    def find_submission(self, packet: RecordsPacket) -> UploadConfirmation | None:
        """The packet's entry in Attachment History (file name carries the packet id, same claim), or None."""
        h = ui.HistoryPage
        self.goto(h.path)
        file_name = ui.AttachmentPage.file_name(packet.packet_id)
        icn = (packet.payer_claim_number or "").upper()
        while self._expect({"list": h.table, "empty": h.empty}) == "list":
            for row in self.page.locator(h.rows).all():
                cells = {name: clean_text(row.locator(selector).inner_text()) for name, selector in h.cells.items()}
                if cells["file_name"] == file_name and (not icn or cells["claim_number"].upper() == icn):
                    raw = (f"Attachment History: {cells['received']} {cells['claim_number']} "
                           f"{cells['document_type']} {cells['file_name']} {cells['confirmation_number']}")
                    return UploadConfirmation(
                        packet_id=packet.packet_id, claim_number=packet.claim_number,
                        confirmation_number=cells["confirmation_number"], reconciled=True,
                        provenance=self.provenance(raw_text=raw, screenshot=True))
            if self.page.locator(ui.Common.next_page).count() == 0:
                return None
            self._submit(ui.Common.next_page)
        return None

    # -- authorizations -----------------------------------------------------------------------------------
    def pull_authorizations(self) -> list[AuthorizationFinding]:
        """Collect every detail link from the paginated list, then read each detail page."""
        a = ui.AuthorizationsPage
        self.goto(a.path)
        self._expect({"list": a.table})
        links = self._hrefs(a.links)
        while self.page.locator(ui.Common.next_page).count():
            self._submit(ui.Common.next_page)
            self._expect({"list": a.table})
            links += self._hrefs(a.links)
        findings = []
        for url in links:
            self.goto(url)  # absolute: the base class joins it onto the portal URL unchanged
            self._expect({"detail": a.detail})
            f = {name: clean_text(self.text_of(selector)) for name, selector in a.fields.items()}
            approved, used = a.parse_units(f["units"])
            findings.append(AuthorizationFinding(
                auth_number=f["auth_number"], member_id=f["member_id"], service=f["service"],
                procedure_codes=parse_codes(f["codes"]), provider=optional_text(f["provider"]),
                facility=optional_text(f["facility"]), raw_status=f["status"],
                status=a.statuses.get(f["status"].casefold()), approved_units=approved, used_units=used,
                start_date=parse_date(f["start"]), end_date=parse_date(f["end"]),
                requested_date=parse_date(f["requested"]), decision_date=parse_date(f["decision"]),
                provenance=self.provenance(raw_text=f["status"])))
        return findings

    # -- helpers ------------------------------------------------------------------------------------------
    def goto(self, path: str) -> None:
        """Open a page; a 503 that is the maintenance page is a MaintenanceWindow, other 5xx PortalUnavailable."""
        try:
            super().goto(path)
        except err.PortalUnavailable:
            self._raise_if_maintenance()
            raise

    def _raise_if_maintenance(self) -> None:
        try:
            shown = self.page.locator(ui.Common.maintenance).count() > 0
        except PlaywrightError:
            shown = False
        if shown:
            self.fail(err.MaintenanceWindow, "the portal is down for scheduled maintenance")

    def _submit(self, target: str | Locator) -> None:
        """Click what loads a new page and wait for it, so the old page never passes as the answer."""
        locator = self.page.locator(target) if isinstance(target, str) else target
        if locator.count() == 0:
            self.fail(err.PortalChanged, "expected control missing")
        try:
            with self.page.expect_navigation(wait_until="domcontentloaded") as navigation:
                locator.first.click()
        except PlaywrightError:  # a timeout, or the request failed (connection reset, aborted)
            self.fail(err.PortalUnavailable, "the portal did not answer")
        response = navigation.value
        if response is not None and response.status >= 500:
            self._raise_if_maintenance()
            self.fail(err.PortalUnavailable, f"portal answered HTTP {response.status}")

    def _expect(self, outcomes: dict[str, str], *, login_page_ok: bool = False) -> str:
        """`expect_one_of` plus the answers any Meridian page may give: maintenance, login, captcha, error."""
        c = ui.Common
        extra = {"_maintenance": c.maintenance, "_captcha": c.captcha, "_error": c.error_page}
        if not login_page_ok:
            extra["_login"] = ui.LoginPage.form
        # Pages are server-rendered and the navigation has finished: a short wait is enough.
        key = self.expect_one_of({**outcomes, **extra}, timeout_ms=3_000)
        if key == "_maintenance":
            self.fail(err.MaintenanceWindow, "the portal is down for scheduled maintenance")
        if key == "_captcha":
            self.fail(err.CaptchaChallenge, "the portal shows a captcha")
        if key == "_login":
            self.fail(err.SessionExpired, "the portal sent the bot back to its login page")
        if key == "_error":
            self.fail(err.PortalChanged, f"portal error page: {clean_text(self.text_of(c.error_page))[:80]}")
        return key

    def _hrefs(self, selector: str) -> list[str]:
        """Absolute URLs of the links a selector matches."""
        links = self.page.locator(selector).all()
        return [urljoin(self.page.url, link.get_attribute("href") or "") for link in links]

    def _optional(self, selector: str) -> str | None:
        """Text of an element the portal shows only sometimes (pend reason, crossover note)."""
        locator = self.page.locator(selector)
        return optional_text(locator.first.inner_text()) if locator.count() else None
