"""ClaimBridge (clearinghouse) adapter for Lakeside Health Cooperative: payer picker, tabs, iframe search."""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import urljoin

from bots.adapter import PortalAdapter
from bots.errors import PortalChanged, PortalError
from bots.findings import AuthorizationFinding, ClaimQuery, ClaimStatusFinding, CorrespondenceFinding
from bots.kit.html import HtmlPage, inner_text
from bots.parsing import clean_text

from . import pages as ui


class ClaimBridgeAdapter(PortalAdapter):
    """Works the ClaimBridge clearinghouse portal for one enrolled payer (the credential's `payer_name`)."""

    interruptions, login_form = ui.INTERRUPTIONS, ui.LOGIN
    #: where claim status is read: "html" (the iframe's own documents fetched and parsed, none rendered)
    #: or "page" (the tab and its iframe)
    claims_from: Literal["html", "page"] = "html"
    #: where the Letters and Authorizations tabs are read: "html" (their pages fetched, each letter's link
    #: fetched) or "page" (the tabs rendered, each download clicked, each detail opened)
    tabs_from: Literal["html", "page"] = "html"
    #: the iframe's search form, once the workspace has said where it is (it stays there within a session)
    _frame_url: str | None = None
    #: the search form as last fetched: posted again for the next check (its CSRF token is the session's)
    _search_form: HtmlPage | None = None

    def is_logged_in(self) -> bool:
        """A live session opens the workspace, or the payer picker (the payer is then picked again)."""
        if alive := super().is_logged_in():
            self.after_login()
        return alive

    def after_login(self) -> None:
        """On the 'Select a payer' page, pick the credential's payer; a refusal (not enrolled) is a PortalError."""
        if self.page.locator(ui.PICKER).count() == 0:
            return
        payer = self.session.credential.options.get("payer_name", ui.DEFAULT_PAYER)
        button = self.page.locator(ui.PICKER).get_by_role("button", name=payer, exact=True)
        if button.count() == 0:
            self.fail(PortalError, f"payer {payer!r} is not listed on ClaimBridge's payer picker")
        self.click(button, ui.WORKSPACE, navigates=True, errors={ui.ALERT: PortalError})

    def _tab(self, name: str) -> None:
        """Open the workspace on one of its tabs (the sign-in form here is SessionExpired, from the kit)."""
        if self.open("workspace", {"in": ui.WORKSPACE, "picker": ui.PICKER}) == "picker":
            self.after_login()
        if not self.page.locator(ui.PANELS[name]).is_visible():
            tab = self.page.locator(ui.TABS).get_by_role("link", name=name, exact=True)
            self.click(tab, ui.PANELS[name], navigates=True)

    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Search in the iframe by ICN (or subscriber + date), walk its result pages for our Patient Control #.

        The iframe's documents are server-rendered, so with `claims_from = "html"` they are fetched and
        parsed, not rendered: the workspace, the frame's search form (its CSRF field posted back), the
        result pages of that search's `sid` in order, then the detail link of our row, as the tab loads them.
        """
        if self.claims_from == "page":
            return self.check_claim_status_in_page(claim)
        s = ui.Search
        by_subscriber = {s.subscriber: claim.member_id, s.service_date: f"{claim.date_of_service:%m/%d/%Y}"}
        found = self._search({s.icn: claim.payer_claim_number} if claim.payer_claim_number else by_subscriber)
        answer = self.answer(found, {"results": s.results, "none": s.none}, errors={ui.ALERT: PortalError})
        shown = found.texts({"txn": s.transaction, "none": s.none})
        if not shown["txn"]:  # every search prints its Transaction ID, the answer's reference
            self.fail_on(found, PortalChanged, "the page no longer shows txn")
        if answer == "none":
            return self.not_on_file(claim, shown["txn"], wording=shown["none"], url=found.url)
        listed, last = 0, found
        for last in self.page_walk(found, s.next, s.results):
            accounts = self.page_rows(last, s.results, s.account)
            row = next((r for r in accounts if r["account"] == claim.claim_number), None)
            if row is not None:
                # the row's onclick and its ICN link open the same address (this search's sid and page)
                detail = self.fetch_page(row["_href"])
                self.answer(detail, ui.Claim.detail)
                lines = self.service_lines_from(self.page_rows(detail, ui.Claim.lines, ui.Claim.columns))
                return self.claim_finding(claim, **detail.texts(ui.Claim.fields), service_lines=lines,
                                          url=detail.url)
            listed += len(accounts)
        return self.not_on_file(claim, shown["txn"], listed=listed, url=last.url)

    def _search(self, typed: dict[str, str | None]) -> HtmlPage:
        """Post the search on the form kept from the last check, or on a freshly fetched one.

        The form's only state is the session's CSRF token, so within a session it is posted again without
        being fetched (one request of four per check). A kept form the portal answers with the form again
        (a token of an earlier session: "could not be verified") or with the payer picker is fetched anew
        and posted once more; the refused post performed no search.
        """
        s = ui.Search
        if (kept := self._search_form) is not None:
            found = self.submit_form(kept, s.form, self._field_names(kept, typed))
            if not (found.has(s.form) or found.has(ui.PICKER)):
                return found
            self._search_form = None
        form = self._claim_search_frame()
        found = self.submit_form(form, s.form, self._field_names(form, typed))
        self._search_form = form
        return found

    def _claim_search_frame(self) -> HtmlPage:
        """The iframe's search form: straight from its address once known in this session, else via the workspace.

        The workspace only says where the frame is, and that does not change within a session: after the
        first check its page is skipped (one request of about five). A frame that answers with the payer
        picker (the portal forgot the payer) is reached through the workspace again, which picks it.
        """
        if self._frame_url is not None:
            form = self.fetch_page(self._frame_url)
            if self.answer(form, {"form": ui.Search.form, "picker": ui.PICKER}) == "form":
                return form
        workspace = self._fetched_tab("Claim Status")
        frames = [e for e in workspace.select(ui.Search.iframe) if e.get("src")]
        if not frames:
            self.fail_on(workspace, PortalChanged, f"expected frame missing: {ui.Search.iframe}")
        form = self.fetch_page(urljoin(workspace.url, frames[0].get("src")))
        self.answer(form, ui.Search.form)  # layout 2 renamed the form: PortalChanged
        self._frame_url = form.url
        return form

    def _fetched_tab(self, name: str) -> HtmlPage:
        """The workspace fetched on one of its tabs (server-rendered panels), the payer picked if it was forgotten."""
        workspace = self.fetch_page("workspace")
        if self.answer(workspace, {"in": ui.WORKSPACE, "picker": ui.PICKER}) == "picker":
            workspace = self._pick_payer_html(workspace)
        if not workspace.has(ui.PANELS[name]):
            tab = workspace.link(f"{ui.TABS} a:has-text('{name}')")
            if tab is None:
                self.fail_on(workspace, PortalChanged, f"expected control missing: the {name} tab")
            workspace = self.fetch_page(tab)
            self.answer(workspace, ui.PANELS[name])
        return workspace

    def _pick_payer_html(self, picker: HtmlPage) -> HtmlPage:
        """`after_login` on a fetched picker: post the form of the button named as the credential's payer."""
        payer = self.session.credential.options.get("payer_name", ui.DEFAULT_PAYER)
        names = [clean_text(inner_text(item)) for item in picker.select(f"{ui.PICKER} > li")]
        if payer not in names:
            self.fail_on(picker, PortalError, f"payer {payer!r} is not listed on ClaimBridge's payer picker")
        workspace = self.submit_form(picker, f"{ui.PICKER} > li:nth-child({names.index(payer) + 1}) form", {})
        self.answer(workspace, ui.WORKSPACE, errors={ui.ALERT: PortalError})
        return workspace

    def _field_names(self, page: HtmlPage, typed: dict[str, str | None]) -> dict[str, str | None]:
        """selector -> value, as typed into the fields, to field name -> value, as the form posts them."""
        named = {}
        for selector, value in typed.items():
            field = [e for e in page.select(selector) if e.get("name")]
            if not field:
                self.fail_on(page, PortalChanged, f"expected field missing: {selector}")
            named[field[0].get("name")] = value
        return named

    def check_claim_status_in_page(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """The rendered path: the search typed into the tab's iframe, its result pages clicked, the row opened."""
        s = ui.Search
        self._tab("Claim Status")
        frame = self.page.frame_locator(s.iframe)
        self.expect(s.form, within=frame, timeout_ms=4_000)  # layout 2 renamed the form: PortalChanged
        by_subscriber = {s.subscriber: claim.member_id, s.service_date: f"{claim.date_of_service:%m/%d/%Y}"}
        self.fill({s.icn: claim.payer_claim_number} if claim.payer_claim_number else by_subscriber, within=frame)
        answer = self.click(s.submit, {"results": s.results, "none": s.none}, within=frame,
                            errors={ui.ALERT: PortalError})
        shown = self.texts({"txn": s.transaction, "none": s.none}, within=frame)
        self.required(shown, "txn")  # every search prints its Transaction ID, the answer's reference
        if answer == "none":
            return self.not_on_file(claim, shown["txn"], wording=shown["none"])
        listed = 0
        for _page in self.pages(s.next, s.page, within=frame):
            accounts = [row["account"] for row in self.rows(frame.locator(s.results), s.account)]
            if claim.claim_number in accounts:
                # The whole row opens the claim (its onclick) and so does the ICN link inside it: clicking the
                # link fired both, and the portal served the detail twice. The Patient Control # cell has no link.
                row = frame.locator(s.rows).nth(accounts.index(claim.claim_number))
                self.click(row.locator("td").nth(1), ui.Claim.detail, within=frame)
                lines = self.service_lines(frame.locator(ui.Claim.lines), ui.Claim.columns)
                return self.claim_finding(claim, **self.texts(ui.Claim.fields, within=frame), service_lines=lines)
            listed += len(accounts)
        return self.not_on_file(claim, shown["txn"], listed=listed)  # results came back, none of them ours

    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[CorrespondenceFinding]:
        """Letters tab, filtered from `since`: every page's new letters downloaded once, named as the list shows.

        The tab is server-rendered and each letter is a plain link, so with `tabs_from = "html"` its
        pages are fetched (the filter form sent as the browser sends it, a GET) and each link fetched.
        """
        if self.tabs_from == "page":
            return self.download_correspondence_in_page(since, known_ids)
        lt = ui.Letters
        listing = self._fetched_tab("Letters")
        if since is not None:
            form = listing.form(lt.filter)
            if form is None:
                self.fail_on(listing, PortalChanged, f"expected form missing: {lt.filter}")
            action, fields = form
            listing = self.fetch_page(action, {**fields, **self._field_names(listing, {lt.since: f"{since:%m/%d/%Y}"})})
            self.answer(listing, lt.table, errors={ui.ALERT: PortalChanged})
        rows = ((row["id"], row["title"], row["date"], row["_href"], row["file_name"])
                for page in self.page_walk(listing, lt.next, lt.table)
                for row in self.page_rows(page, lt.table, lt.columns))
        return self.letters(rows, known_ids, since=since)

    def download_correspondence_in_page(self, since: date | None,
                                        known_ids: set[str]) -> list[CorrespondenceFinding]:
        """The rendered path: the tab's filter typed and applied, each page's download links clicked."""
        lt = ui.Letters
        self._tab("Letters")
        if since is not None:
            self.fill({lt.since: f"{since:%m/%d/%Y}"})
            self.click(lt.apply, lt.table, navigates=True)
        rows = ((row["id"], row["title"], row["date"], self.page.locator(lt.table).locator("tbody tr").nth(i)
                 .locator(lt.link).click, row["file_name"])
                for _page in self.pages(lt.next, lt.page, navigates=True)
                for i, row in enumerate(self.rows(self.page.locator(lt.table), lt.columns)))
        return self.letters(rows, known_ids, since=since)

    def pull_authorizations(self) -> list[AuthorizationFinding]:
        """Authorizations tab: every row's detail link over all pages, then each label/value detail read.

        Server-rendered like the letters: with `tabs_from = "html"` the list and the details are fetched.
        """
        a = ui.Auths
        if self.tabs_from == "html":
            links = [row["_href"] for page in self.page_walk(self._fetched_tab("Authorizations"), a.next, a.table)
                     for row in page.table(a.table) or []]
            return [self._fetched_authorization(href) for href in links]
        self._tab("Authorizations")
        links = [row["_href"] for _page in self.pages(a.next, a.page, navigates=True)
                 for row in self.table(self.page.locator(a.table))]
        return [self._authorization(href) for href in links]

    def _fetched_authorization(self, href: str) -> AuthorizationFinding:
        detail = self.fetch_page(href)
        self.answer(detail, ui.Auths.detail)
        shown = detail.labelled(ui.Auths.detail) or {}
        return self.authorization({name: shown.get(label) for label, name in ui.Auths.labels.items()},
                                  ui.Auths.statuses, url=detail.url)

    def _authorization(self, href: str) -> AuthorizationFinding:
        self.open(href, ui.Auths.detail)
        shown = self.labelled(self.page.locator(ui.Auths.detail))
        return self.authorization({name: shown.get(label) for label, name in ui.Auths.labels.items()},
                                  ui.Auths.statuses)
