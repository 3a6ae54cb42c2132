"""Meridian Health Plan: a classic server-rendered portal (TOTP, CSRF forms, search-then-detail claims)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from bots import errors as err
from bots import findings as f
from bots.adapter import PortalAdapter
from bots.kit.paging import MAX_PAGES

from . import pages as ui


class MeridianAdapter(PortalAdapter):
    """Meridian's provider portal: every capability, one page at a time."""

    interruptions, login_form = ui.INTERRUPTIONS, ui.LOGIN
    #: where claim status is read: "html" (the pages fetched and parsed, none rendered) or "page" (the tab)
    claims_from: Literal["html", "page"] = "html"

    def check_claim_status(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        """Search by ICN (or member + date of service), pick our row by Patient Account #, read the detail.

        The portal is plain server-rendered HTML, so with `claims_from = "html"` the same pages are fetched
        and parsed, not rendered.
        """
        if self.claims_from == "page":
            return self.check_claim_status_in_page(claim)
        s = ui.Search
        form = self.fetch_page(s.path)
        self.answer(form, s.form)
        if claim.payer_claim_number:
            found = self.submit_form(form, s.icn_form, {"icn": claim.payer_claim_number})
        else:
            day = f"{claim.date_of_service:%m/%d/%Y}"
            found = self.submit_form(form, s.member_form, {"member_id": claim.member_id, "dos_from": day,
                                                            "dos_to": day})
        answer = self.answer(found, {"results": s.results, "none": s.none}, errors={s.error: err.PortalChanged})
        shown = found.texts({"reference": s.reference, "none": s.none})
        reference = self.page_search(found, ui.REFERENCE, shown["reference"], what="inquiry reference")
        if answer == "none":
            return self.not_on_file(claim, reference, wording=shown["none"], url=found.url)
        for _page in range(MAX_PAGES):
            row = next((r for r in self.page_rows(found, s.results, s.columns) if r["account"] == claim.claim_number),
                       None)
            if row is not None or (next_page := found.link(ui.NEXT)) is None:
                break
            found = self.fetch_page(next_page)
            self.answer(found, s.results)
        else:
            self.fail_on(found, err.PortalChanged, f"a claim search went on for more than {MAX_PAGES} pages")
        if row is None:  # as on the rendered page: other claims of the member and day, not ours
            return self.not_on_file(claim, reference, wording=ui.NO_RESULTS, url=found.url)
        detail = self.fetch_page(row["_href"])
        self.answer(detail, ui.Claim.header)
        lines = self.service_lines_from(self.page_rows(detail, ui.Claim.lines, ui.Claim.columns))
        return self.claim_finding(claim, **detail.texts(ui.Claim.fields), service_lines=lines, url=detail.url)

    def check_claim_status_in_page(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        """The rendered-page path: the same search typed into the tab, the rows paged, the detail opened."""
        s = ui.Search
        self.open(s.path, s.form)
        if claim.payer_claim_number:
            self.fill({s.icn: claim.payer_claim_number})
        else:
            day = f"{claim.date_of_service:%m/%d/%Y}"
            self.fill({s.member_id: claim.member_id, s.dos_from: day, s.dos_to: day})
        submit = s.icn_submit if claim.payer_claim_number else s.member_submit
        answer = self.click(submit, {"results": s.results, "none": s.none}, navigates=True,
                            errors={s.error: err.PortalChanged})
        shown = self.texts({"reference": s.reference, "none": s.none})  # one read for both
        reference = self.search(ui.REFERENCE, shown["reference"], group=0, what="inquiry reference")
        if answer == "none":
            return self.not_on_file(claim, reference, wording=shown["none"])
        row, _seen = self.find_row(s.rows, s.account, claim.claim_number, next_link=ui.NEXT, answer=s.results,
                                   navigates=True)
        if row is None:
            # Other claims match the member and date (another visit that day) but ours is not on file:
            # the portal's no-results wording is what a biller would see searching for it alone.
            return self.not_on_file(claim, reference, wording=ui.NO_RESULTS)
        self.click(row.locator(s.link), ui.Claim.header, navigates=True)
        return self._read_claim(claim)

    def _read_claim(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        c = ui.Claim
        return self.claim_finding(claim, **self.texts(c.fields),
                                  service_lines=self.service_lines(self.page.locator(c.lines), c.columns))

    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[f.CorrespondenceFinding]:
        """Walk the document center (filtered by date), download each unknown letter once, named by hash."""
        d = ui.Documents
        answer = self.open(d.path + (f"?from={since:%m/%d/%Y}" if since else ""),
                           {"list": d.table, "empty": d.empty}, errors={d.error: err.PortalChanged})
        return [] if answer == "empty" else self.letters(self._letter_rows(), known_ids)

    def _letter_rows(self):
        d = ui.Documents
        for _page in self.pages(ui.NEXT, d.table, navigates=True):
            for i, row in enumerate(self.rows(self.page.locator(d.table), d.columns)):
                letter_id = self.search(d.letter_id, row["_href"], what="download link")
                yield letter_id, row["title"], row["date"], self.page.locator(d.rows).nth(i).locator(d.link).click

    def upload_records(self, packet: f.RecordsPacket) -> f.UploadConfirmation:
        """Attach the packet's PDF to the claim (ICN); the confirmation page screenshot is the evidence."""
        a = ui.Attach
        self.open(a.path, a.form)
        self.page.fill(a.icn, packet.payer_claim_number or "")
        self.page.select_option(a.document_type, label=a.document_types.get(packet.document_type, "Other"))
        # The file goes up named by the packet id, so the portal's history can be matched later.
        self.page.set_input_files(a.file, {"name": f"{packet.packet_id}.pdf", "mimeType": "application/pdf",
                                           "buffer": Path(packet.file_path).read_bytes()})
        self.click(a.submit, a.done, navigates=True, errors={a.claim_unknown: err.NotFound, a.error: err.PortalError})
        return self.confirmation(packet, **self.texts(a.confirmation))

    def find_submission(self, packet: f.RecordsPacket) -> f.UploadConfirmation | None:
        """The packet's entry in Attachment History (file name carries the packet id, same claim), or None."""
        a = ui.Attach
        if self.open(a.history, {"list": a.history_table, "empty": a.history_empty}) == "empty":
            return None
        for _page in self.pages(ui.NEXT, a.history_table, navigates=True):
            rows = self.rows(self.page.locator(a.history_table), a.history_columns)
            if found := self.history_entry(packet, rows, file_name=f"{packet.packet_id}.pdf"):
                return found
        return None

    def pull_authorizations(self) -> list[f.AuthorizationFinding]:
        """Collect every detail link from the paginated list, then read each detail page."""
        a = ui.Auths
        self.open(a.path, a.table)
        links = [row["_href"] for _page in self.pages(ui.NEXT, a.table, navigates=True)
                 for row in self.rows(self.page.locator(a.table), {"Auth #": "auth_number"})]
        found = []
        for url in links:
            self.open(url, a.detail)
            found.append(self.authorization(self.texts(a.fields), a.statuses))
        return found
