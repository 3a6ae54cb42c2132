"""Northwind Mutual: a single-page app (hash routes, data-testid), an e-mailed code, load-more lists."""

from __future__ import annotations

from datetime import date

from bots import findings as f
from bots.adapter import PortalAdapter
from bots.errors import PortalChanged
from bots.parsing import parse_codes

from . import pages as P


class NorthwindAdapter(PortalAdapter):
    """The Northwind Mutual SPA, driven by its rendered DOM; the kit signs in and closes the idle modal."""

    interruptions = P.INTERRUPTIONS  # maintenance, captcha, 5xx banner, sign-in form; the idle modal closed
    login_form = P.LOGIN

    def check_claim_status(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        """Search by claim number (ICN) or member + date of service, load more until our card, read its detail."""
        c, icn = P.Claims, claim.payer_claim_number
        self.open(c.path, c.form)
        self.fill({c.number: icn, c.member: None if icn else claim.member_id,
                   c.dos: None if icn else claim.date_of_service.isoformat()})
        answer = self.click(c.submit, {"results": c.results, "none": c.none}, errors={c.error: PortalChanged})
        reference = self.search(P.REFERENCE, self.text_of(c.reference), group=0, what="search reference")
        if answer == "none":
            return self.not_on_file(claim, reference, wording=self.texts({"none": c.none_text})["none"])
        card, seen = self.find_row(c.cards, c.account, claim.claim_number, more=P.LOAD_MORE)
        if card is None:  # other claims of the member and day, not ours
            return self.not_on_file(claim, reference, listed=seen)
        self.click(card.locator(c.open_card), c.detail, errors={c.missing: PortalChanged}, again_if_unanswered=True)
        detail = self.page.locator(c.detail)
        remarks = [parse_codes(" ".join(row.locator(c.remark).all_inner_texts()))
                   for row in detail.locator(c.line).all()]
        lines = [line.model_copy(update={"rarc_codes": codes})
                 for line, codes in zip(self.service_lines(detail.locator(c.lines), c.columns), remarks, strict=True)]
        return self.claim_finding(claim, **self.texts(c.fields, within=detail), service_lines=lines, screenshot=True)

    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[f.CorrespondenceFinding]:
        """Load the whole document list (filtered by `since`), then download each unknown letter once."""
        d = P.Documents
        route = d.path + (f"?since={since.isoformat()}" if since else "")
        if self.open(route, {"list": d.shown, "empty": d.empty}, errors={d.error: PortalChanged}) == "empty":
            return []
        links = self.load_all(d.rows, P.LOAD_MORE).locator(d.download)
        return self.letters(((row["letter_id"], row["title"] or "", row["date"], links.nth(i).click)
                             for i, row in enumerate(self.rows(self.page.locator(d.table), d.columns))), known_ids)

    def pull_authorizations(self) -> list[f.AuthorizationFinding]:
        """Every authorization in the list view (it shows every field the detail view does)."""
        a = P.Auths
        if self.open(a.path, {"list": a.table, "empty": a.empty}) == "empty":
            return []
        return [self.authorization({k: v for k, v in row.items() if k != "_href"}, a.statuses)
                for row in self.rows(self.page.locator(a.table), a.columns)]
