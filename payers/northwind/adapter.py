"""Northwind Mutual: a single-page app (hash routes, data-testid), an e-mailed code, load-more lists."""

from __future__ import annotations

import time
from datetime import date
from typing import Literal
from urllib.parse import quote

from bots import findings as f
from bots.adapter import PortalAdapter
from bots.errors import PortalChanged
from bots.kit.paging import MAX_PAGES
from bots.parsing import parse_codes
from bots.urls import safe_url

from . import pages as P

#: how often the API path asks which layout the SPA renders (a redesign rolled out mid-night is seen soon)
LAYOUT_CHECK_SECONDS = 300.0


class NorthwindAdapter(PortalAdapter):
    """The Northwind Mutual SPA: signs in and lists letters in its DOM, reads claim status from its JSON API."""

    interruptions = P.INTERRUPTIONS  # maintenance, captcha, 5xx banner, sign-in form; the idle modal closed
    login_form = P.LOGIN
    #: where claim status is read: "api" (the JSON the SPA renders, no page work) or "page" (the rendered DOM)
    claims_from: Literal["api", "page"] = "api"
    _layout_checked_at: float | None = None

    def check_claim_status(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        """Search by claim number (ICN) or member + date of service, page until our claim, read its detail."""
        if self.claims_from == "page":
            return self.check_claim_status_in_page(claim)
        a, icn = P.Api, claim.payer_claim_number
        self._check_layout()
        query = {"claim_number": icn} if icn else {"member_id": claim.member_id,
                                                   "dos": claim.date_of_service.isoformat()}
        seen, card, offset = 0, None, 0
        for _page in range(MAX_PAGES):  # five cards a page, as the SPA's "Load more" asks for them
            body = self.api_keys(self.api_json(a.claims, {**query, "offset": offset, "limit": a.page_size}),
                                 *a.search_keys, what="claim search")
            reference = self.search(P.REFERENCE, str(body["reference_id"]), group=0, what="search reference")
            cards = body["results"] if isinstance(body["results"], list) else self.fail(
                PortalChanged, "the portal's API claim search results are no longer a list")
            card = next((c for c in cards if isinstance(c, dict) and c.get("patient_account") == claim.claim_number),
                        None)
            seen += len(cards)
            if card is not None or not body["has_more"]:
                break
            if not cards:
                self.fail(PortalChanged, "the portal's API says more claims follow but sent none")
            offset += len(cards)
        else:
            self.fail(PortalChanged, f"a claim search went on for more than {MAX_PAGES} pages")
        if card is None:
            # nothing: the SPA's no-results words; other claims of the member and day but not ours: how many
            words = {"wording": a.no_results} if body["total"] == 0 else {"listed": seen}
            return self._from_api(self.not_on_file(claim, reference, **words), a.claims)
        path = a.claim + quote(str(card.get("claim_number") or ""), safe="")
        return self._from_api(self._claim_from_json(claim, self.api_json(path)), path)

    def _claim_from_json(self, claim: f.ClaimQuery, body) -> f.ClaimStatusFinding:
        a = P.Api
        d = self.api_keys(body, *a.detail_keys, what="claim detail")
        payment = d["payment"] or {}
        if not isinstance(payment, dict) or not isinstance(d["lines"], list):
            self.fail(PortalChanged, "the portal's API claim detail changed shape")
        lines = []
        for line in d["lines"]:
            line = self.api_keys(line, *a.line_keys, what="service line")
            adjustments = [self._adjustment(adj) for adj in line["adjustments"] or []]
            remarks = parse_codes(" ".join(map(str, line["remarks"] or [])))  # as the chips read
            lines.append(self.build(f.ServiceLine, line_number=line["line_number"],
                                    procedure_code=line["procedure_code"], service_date=line["date_of_service"],
                                    units=None if line["units"] is None else str(line["units"]),  # as the cell reads
                                    billed=line["billed"], allowed=line["allowed"],
                                    paid=line["paid"], patient_responsibility=line["patient_responsibility"],
                                    adjustments=adjustments, rarc_codes=remarks))
        if not lines:
            self.fail(PortalChanged, "the claim shows no service lines")
        return self.claim_finding(
            claim, raw_status=d["status"], patient_account=d["patient_account"],
            payer_claim_number=d["claim_number"], billed=d["billed"], allowed=d["allowed"], paid=d["paid"],
            patient_responsibility=d["patient_responsibility"], adjudication_date=d["processed_date"],
            pending_reason=d["pending_reason"], payment_method=payment.get("method"),
            check_number=payment.get("reference"), payment_date=payment.get("date"),
            crossover_payer=d["cob_forwarded_to"], service_lines=lines)

    def _adjustment(self, adjustment) -> f.Adjustment:
        adj = self.api_keys(adjustment, "group", "reason", "amount", what="adjustment")
        return self.build(f.Adjustment, group_code=adj["group"], carc=adj["reason"], amount=adj["amount"])

    def _from_api(self, finding: f.ClaimStatusFinding, path: str) -> f.ClaimStatusFinding:
        """The finding's provenance points at the API path it was read from (no query: it has member ids)."""
        where = safe_url(self.session.url(path))
        return finding.model_copy(update={"provenance": finding.provenance.model_copy(update={"url": where})})

    def _check_layout(self) -> None:
        """PortalChanged when the SPA renders a layout this adapter does not know (a redesign is a new portal)."""
        now = time.monotonic()
        if self._layout_checked_at is not None and now - self._layout_checked_at < LAYOUT_CHECK_SECONDS:
            return
        layout = self.api_keys(self.api_json(P.Api.config), "layout", what="config").get("layout")
        if layout not in P.Api.layouts:
            self.fail(PortalChanged, f"the portal renders layout {layout!r}; this adapter knows {P.Api.layouts}")
        self._layout_checked_at = now

    def check_claim_status_in_page(self, claim: f.ClaimQuery) -> f.ClaimStatusFinding:
        """The rendered-page path: search form, load more until our card, open it, read the detail view."""
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
