"""The adapter contract: one subclass of `PortalAdapter` per payer portal; the base does the heavy lifting."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar, NoReturn, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import pyotp
from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.credentials import Credential
from bots.errors import MfaRequired, PortalChanged, PortalError, PortalUnavailable
from bots.evidence import EvidenceStore
from bots.findings import (
    AuthorizationFinding,
    ClaimQuery,
    ClaimStatusFinding,
    CorrespondenceFinding,
    Provenance,
    RecordsPacket,
    UploadConfirmation,
)
from bots.manifest import CAPABILITIES, Manifest
from bots.status_map import StatusMap

log = logging.getLogger("payerbot.adapter")


class OneTimeCodeProvider(Protocol):
    """Hands an adapter the one-time code a portal e-mailed or texted (a mailbox reader, an SMS gateway)."""

    def latest_code(self, credential: Credential, *, after: float) -> str | None:
        """The newest code sent to this account after the given epoch time, or None."""


@dataclass
class PortalSession:
    """What an adapter works with: one logged-in (or about to be) browser context for one account."""

    page: Page
    context: BrowserContext
    credential: Credential
    base_url: str
    evidence: EvidenceStore
    one_time_codes: OneTimeCodeProvider | None = None
    download_dir: Path | None = None
    max_download_bytes: int = 50 * 1024 * 1024
    events: list[str] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        """An absolute URL on this portal."""
        return urljoin(self.base_url.rstrip("/") + "/", path.lstrip("/"))


def safe_url(url: str) -> str:
    """A URL without its query string or fragment (queries can carry member ids and names)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class PortalAdapter:
    """Base class for payer adapters. Subclasses implement a subset of the capabilities."""

    manifest: ClassVar[Manifest]
    status_map: ClassVar[StatusMap]
    package_dir: ClassVar[Path]

    def __init__(self, session: PortalSession):
        self.session = session
        self.page = session.page

    # -- capabilities: override the ones the portal supports --------------------------------------------
    def login(self) -> None:
        """Log in with the session's credential, exactly once; raise LoginFailed on refusal."""
        raise NotImplementedError

    def is_logged_in(self) -> bool:
        """Whether the current browser context already has a live portal session."""
        raise NotImplementedError

    def check_claim_status(self, claim: ClaimQuery) -> ClaimStatusFinding:
        """Look one claim up and return its status (not found is a finding with category D0)."""
        raise NotImplementedError

    def download_correspondence(self, since: date | None, known_ids: set[str]) -> list[CorrespondenceFinding]:
        """Download letters dated on or after `since` whose portal ids are not in `known_ids`."""
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
        """Capabilities this class really implements (overrides of the base methods that are not stubs)."""
        from bots.stubs import is_stub  # a scaffolded method that only raises NotImplementedError is a TODO

        return {name for name in CAPABILITIES
                if getattr(cls, name) is not getattr(PortalAdapter, name) and not is_stub(getattr(cls, name))}

    # -- helpers for subclasses ---------------------------------------------------------------------------
    def credentials_submitted(self) -> None:
        """Call right before the click that sends the password: errors after it count as login attempts."""
        self.session.events.append("credentials_submitted")

    #: attempts for one page load (a GET is safe to repeat), spaced ~0.3 s, 0.6 s (+ jitter)
    GOTO_ATTEMPTS = 3

    def goto(self, path: str) -> None:
        """Open a portal page, trying a 5xx or network failure again a moment later; then PortalUnavailable."""
        for attempt in range(1, self.GOTO_ATTEMPTS + 1):
            try:
                return self._goto_once(path)
            except PortalUnavailable:
                if attempt == self.GOTO_ATTEMPTS:
                    raise
                time.sleep(0.3 * 2 ** (attempt - 1) + random.uniform(0, 0.2))

    def _goto_once(self, path: str) -> None:
        try:
            response = self.page.goto(self.session.url(path), wait_until="domcontentloaded")
        except PlaywrightTimeout as exc:
            raise PortalUnavailable(f"timed out opening {safe_url(self.session.url(path))}") from exc
        except PlaywrightError as exc:
            raise PortalUnavailable(f"could not open {safe_url(self.session.url(path))}") from exc
        if response is not None and response.status >= 500:
            raise PortalUnavailable(f"portal answered HTTP {response.status}", url=safe_url(response.url))

    def expect_one_of(self, outcomes: dict[str, str], *, timeout_ms: float = 10_000) -> str:
        """Wait until one of several selectors is visible; return its key. None visible -> PortalChanged.

        Portals answer a step in several ways (results, no results, an error banner, a logout);
        naming every expected outcome keeps an unknown page from passing as an empty result.
        """
        combined = ", ".join(outcomes.values())
        try:
            self.page.locator(combined).first.wait_for(state="visible", timeout=timeout_ms)
        except PlaywrightTimeout:
            self.fail(PortalChanged, f"none of the expected outcomes appeared: {sorted(outcomes)}")
        for key, selector in outcomes.items():
            if self.page.locator(selector).first.is_visible():
                return key
        self.fail(PortalChanged, f"none of the expected outcomes is visible: {sorted(outcomes)}")

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

    def totp_code(self) -> str:
        """The current TOTP code from the stored seed."""
        seed = self.session.credential.totp_seed
        if seed is None:
            self.fail(MfaRequired, "portal asks for an authenticator code and no TOTP seed is stored")
        return pyotp.TOTP(seed.get_secret_value()).now()

    def provenance(self, raw_text: str | None = None, *, screenshot: bool = False) -> Provenance:
        """Provenance for a finding read from the current page."""
        sha, path = (self.screenshot() if screenshot else (None, None))
        return Provenance(
            payer_id=self.manifest.id,
            account=self.session.credential.account,
            url=safe_url(self.page.url),
            raw_text=raw_text,
            screenshot_sha256=sha,
            screenshot_path=str(path) if path else None,
        )

    def screenshot(self) -> tuple[str, Path] | tuple[None, None]:
        """A full-page screenshot stored as evidence; (None, None) if the page cannot be captured."""
        try:
            return self.session.evidence.put_bytes(self.page.screenshot(full_page=True), ".png")
        except PlaywrightError:
            return None, None

    def fail(self, error: type[PortalError] | Callable[..., PortalError], message: str) -> NoReturn:
        """Raise a typed error with a screenshot of the page as evidence (and its scrubbed HTML if it changed)."""
        _sha, path = self.screenshot()
        html_path = self.scrubbed_html() if isinstance(error, type) and issubclass(error, PortalChanged) else None
        raise error(message, url=safe_url(self.page.url), screenshot_path=str(path) if path else None,
                    page_html_path=str(html_path) if html_path else None)

    def scrubbed_html(self) -> Path | None:
        """The current page's HTML with every text and value removed, stored as evidence for the operator."""
        from bots.scrub import scrub_html

        try:
            html = scrub_html(self.page.content())
        except PlaywrightError:
            return None
        return self.session.evidence.put_bytes(html.encode(), ".html")[1]
