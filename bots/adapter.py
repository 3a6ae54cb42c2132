"""The adapter contract: one subclass of `PortalAdapter` per payer portal; the base does the heavy lifting."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar, NoReturn, Protocol
from urllib.parse import urljoin

from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from bots.credentials import Credential
from bots.errors import PortalChanged, PortalError
from bots.evidence import EvidenceStore
from bots.fetching import PageFetch, RequestApiFetch
from bots.findings import (
    AuthorizationFinding,
    ClaimQuery,
    ClaimStatusFinding,
    CorrespondenceFinding,
    PortalProblem,
    Provenance,
    RecordsPacket,
    UploadConfirmation,
)
from bots.kit.api import Api
from bots.kit.html import Html
from bots.kit.login import Login
from bots.kit.paging import Paging
from bots.kit.reading import Reading
from bots.kit.waits import Waits
from bots.manifest import CAPABILITIES, Manifest
from bots.status_map import StatusMap
from bots.urls import safe_url

log = logging.getLogger("payerbot.adapter")


class OneTimeCodeProvider(Protocol):
    """Hands an adapter the one-time code a portal e-mailed or texted (a mailbox reader, an SMS gateway)."""

    def latest_code(self, credential: Credential, *, after: float) -> str | None:
        """The newest code sent to this account after the given epoch time, or None."""


@dataclass
class PortalSession:
    """What an adapter works with: one logged-in (or about to be) browser context for one account."""

    #: the account's tab; None while it is parked (`PortalAdapter.park_tab`)
    page: Page | None
    context: BrowserContext
    credential: Credential
    base_url: str
    evidence: EvidenceStore
    one_time_codes: OneTimeCodeProvider | None = None
    download_dir: Path | None = None
    max_download_bytes: int = 50 * 1024 * 1024
    events: list[str] = field(default_factory=list)
    #: how the requests the adapter makes itself (`fetch_page`, `api_json`) travel: by default the context's
    #: request API; a recorded-case replay answers them from its recording (they go past the browser's router)
    fetch: PageFetch = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.fetch is None:
            self.fetch = RequestApiFetch(self.context)

    def url(self, path: str = "") -> str:
        """An absolute URL on this portal."""
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/"))


class PortalAdapter(Api, Html, Waits, Login, Paging, Reading):
    """Base class for payer adapters: the kit does the waiting, signing in, paging and reading.

    A payer declares its pages (interruptions, sign-in form) and implements the capabilities its
    portal offers; each returns findings, never stores them.
    """

    manifest: ClassVar[Manifest]
    status_map: ClassVar[StatusMap]
    package_dir: ClassVar[Path]

    _parked_url: str = "about:blank"  # where the tab was when it was parked
    _user_agent: str | None = None

    def __init__(self, session: PortalSession):
        self.session = session
        self._watch_documents()

    @property
    def page(self) -> Page:
        """The account's tab; a parked one (`park_tab`) is opened again, blank and signed in, by the first step
        that needs it."""
        if self.session.page is None:
            self.session.page = self.session.context.new_page()
            self._watch_documents()
        return self.session.page

    @page.setter
    def page(self, page: Page) -> None:
        self.session.page = page

    @property
    def tab_parked(self) -> bool:
        """Whether the session holds no tab right now (see `park_tab`)."""
        return self.session.page is None

    @property
    def tab_url(self) -> str:
        """Where the tab is, or was when it was parked; never opens it."""
        return self._parked_url if self.session.page is None else self.session.page.url

    def user_agent(self) -> str:
        """The browser's user agent, as the portal sees it (read once, while there is a tab)."""
        if self._user_agent is None:
            self._user_agent = self.page.evaluate("navigator.userAgent")
        return self._user_agent

    def park_tab(self) -> None:
        """Close the tab while the lane only fetches: its renderer (~20-90 MiB) goes, the login stays.

        The login lives in the context (cookies, storage), and a claim check that reads fetched pages or JSON
        (`claims_without_tab`) never draws anything. A step that needs the tab again (a sign-in after an
        expiry, a letter clicked in the tab) opens a new one through `page`; evidence is not taken from a
        parked tab (there is nothing on screen).
        """
        page = self.session.page
        if page is None:
            return
        self.user_agent()  # the session's extra pages (bots.session_pages) send the same
        self._parked_url = page.url
        self.session.page = None
        page.close()

    def claims_without_tab(self) -> bool:
        """Whether `check_claim_status` reads fetched pages or JSON only, never the tab (see bots.session_pages)."""
        return getattr(self, "claims_from", "page") != "page"

    def fresh_tab(self) -> None:
        """Swap the tab for a new one in the same logged-in context; closing the old one returns its memory.

        The login lives in the context (cookies, storage), so nothing is sent to the portal. The next step
        opens its page as always; a single-page app loads again in the new tab, signed in.
        """
        old = self.session.page
        if old is None:
            return  # a parked tab holds no renderer to renew; `page` opens a new one when it is needed
        self.session.page = self.session.context.new_page()
        self._watch_documents()
        old.close()

    # -- capabilities: override the ones the portal supports --------------------------------------------
    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Look one claim up and return its status (not found is a finding with category D0)."""
        raise NotImplementedError

    def download_correspondence(self, since: date | None,
                                known_ids: set[str]) -> list[CorrespondenceFinding | PortalProblem]:
        """Download letters dated on or after `since` whose portal ids are not in `known_ids` (see Reading.letters)."""
        raise NotImplementedError

    def upload_records(self, packet: RecordsPacket) -> UploadConfirmation:
        """Submit a records packet on the portal's attachment form and return its confirmation."""
        raise NotImplementedError

    def pull_authorizations(self) -> list[AuthorizationFinding]:
        """Every authorization the portal lists for this account."""
        raise NotImplementedError

    def find_submission(self, packet: RecordsPacket) -> UploadConfirmation | None:
        """The packet's entry in the portal's own submission history (reconciled=True), or None if absent.

        Every adapter that uploads implements it: a packet whose upload outcome is unknown is looked up
        here before anything is sent again.
        """
        raise NotImplementedError

    @classmethod
    def implemented_capabilities(cls) -> set[str]:
        """Capabilities this class really implements (overrides of the base methods; a declared sign-in form)."""
        from bots.stubs import is_stub  # a scaffolded method that only raises NotImplementedError is a TODO

        found = {name for name in CAPABILITIES
                 if getattr(cls, name) is not getattr(PortalAdapter, name) and not is_stub(getattr(cls, name))}
        if cls.login_form is not None:
            found.add("login")
        return found

    # -- helpers for subclasses ---------------------------------------------------------------------------
    def credentials_submitted(self) -> None:
        """Call right before the click that sends the password: errors after it count as login attempts."""
        self.session.events.append("credentials_submitted")

    def text_of(self, selector: str, *, within: str | None = None) -> str:
        """The text of a required element; a missing one means the page changed."""
        root = self.page.locator(within) if within else self.page
        locator = root.locator(selector)
        if locator.count() == 0:
            self.fail(PortalChanged, f"expected element missing: {selector}")
        return locator.first.inner_text()

    def map_status(self, wording: str) -> str | None:
        """The X12 category for the portal's wording, or None (kept raw, becomes an operator task)."""
        return self.status_map.category(wording)

    def provenance(self, raw_text: str | None = None, *, screenshot: bool = False,
                   url: str | None = None) -> Provenance:
        """Provenance for a finding read from the current page (or from `url`, a page fetched without the tab)."""
        sha, path = (self.screenshot() if screenshot else (None, None))
        return Provenance(
            payer_id=self.manifest.id,
            account=self.session.credential.account,
            url=safe_url(url or self.tab_url),
            raw_text=raw_text,
            screenshot_sha256=sha,
            screenshot_path=str(path) if path else None,
        )

    def screenshot(self) -> tuple[str, Path] | tuple[None, None]:
        """A full-page screenshot stored as evidence; (None, None) if the page cannot be captured or is parked."""
        if self.tab_parked:
            return None, None
        try:
            return self.session.evidence.put_bytes(self.page.screenshot(full_page=True), ".png")
        except PlaywrightError:
            return None, None

    def fail(self, error: type[PortalError] | Callable[..., PortalError], message: str) -> NoReturn:
        """Raise a typed error with a screenshot of the page as evidence (and its scrubbed HTML if it changed).

        Errors that are retried or deferred (`evidence = False`: 5xx, maintenance, an ended session) skip the
        screenshot; the ones that become an operator's task keep it.
        """
        fetched = self.fetched_evidence()
        if fetched is not None:  # a page read without the tab: its HTML is the evidence, not the tab
            self.fail_on(fetched, error, message)
        keep = getattr(error, "evidence", True) if isinstance(error, type) else True
        _sha, path = self.screenshot() if keep else (None, None)
        html_path = self.scrubbed_html() if isinstance(error, type) and issubclass(error, PortalChanged) else None
        raise error(message, url=safe_url(self.tab_url), screenshot_path=str(path) if path else None,
                    page_html_path=str(html_path) if html_path else None)

    def scrubbed_html(self) -> Path | None:
        """The current page's HTML with every text and value removed, stored as evidence for the operator."""
        from bots.scrub import scrub_html

        if self.tab_parked:
            return None
        try:
            html = scrub_html(self.page.content())
        except PlaywrightError:
            return None
        return self.session.evidence.put_bytes(html.encode(), ".html")[1]
