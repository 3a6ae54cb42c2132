"""Opening pages, clicking and waiting for one of the expected answers, with interruptions checked on every wait."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, ClassVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import FrameLocator, Locator, Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bots.errors import (
    CaptchaChallenge,
    MaintenanceWindow,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
)
from bots.kit import dom
from bots.kit.pages import Interruptions
from bots.parsing import clean_text
from bots.urls import safe_url

if TYPE_CHECKING:
    from bots.adapter import PortalSession

Root = Page | FrameLocator | Locator
Outcomes = dict[str, str] | str

INTERRUPTION_ERRORS = {"_maintenance": (MaintenanceWindow, "the portal is down for scheduled maintenance"),
                       "_captcha": (CaptchaChallenge, "the portal shows a captcha (never solved by a bot)"),
                       "_signed_out": (SessionExpired, "the portal sent the bot back to its sign-in page"),
                       "_server_error": (PortalUnavailable, "the portal answered with a server error")}


class Waits:
    """The waiting half of the base adapter: `goto`, `open`, `click`, `expect`, `check_interruptions`."""

    page: Page
    session: PortalSession
    #: the payer's interruption pages (declared in its pages.py, attached by the adapter class)
    interruptions: ClassVar[Interruptions] = Interruptions()
    #: how long a step's answer may take to appear (the recorded-case replay lowers it: answers are instant)
    wait_ms: ClassVar[float] = 10_000
    #: attempts for one page load (a GET is safe to repeat), spaced ~0.3 s, 0.6 s (+ jitter)
    GOTO_ATTEMPTS = 3

    def _watch_documents(self) -> None:
        """Note a 5xx document answer (also inside an iframe, which `goto` never sees); close declared modals.

        Any document the tab loads also ends `Html.fetched_evidence`: the tab is what is being read again.
        """
        self._server_error: int | None = None

        def note(response: Response) -> None:
            if response.request.resource_type != "document":
                return
            # The tab (or one of its iframes) loaded a page: what fails next is read there, not in a fetched page.
            self._last_fetched = None
            if response.status >= 500:
                self._server_error = response.status

        self.page.on("response", note)
        for modal, close in self.interruptions.dismiss.items():
            self.page.add_locator_handler(self.page.locator(modal),
                                          lambda _modal, close=close: self.page.locator(close).click())

    # -- opening pages ------------------------------------------------------------------------------------
    def goto(self, path: str) -> None:
        """Open a portal page, trying a 5xx or network failure again a moment later; then PortalUnavailable.

        A 503 that is the portal's maintenance page is a MaintenanceWindow at once (waiting will not help).
        """
        for attempt in range(1, self.GOTO_ATTEMPTS + 1):
            try:
                return self._goto_once(path)
            except MaintenanceWindow:
                raise
            except PortalUnavailable:
                if attempt == self.GOTO_ATTEMPTS:
                    raise
                time.sleep(0.3 * 2 ** (attempt - 1) + random.uniform(0, 0.2))

    def _goto_once(self, path: str) -> None:
        url = self.session.url(path)
        self._server_error = None
        try:
            response = self.page.goto(url, wait_until="domcontentloaded")
        except PlaywrightTimeout as exc:
            raise PortalUnavailable(f"timed out opening {safe_url(url)}") from exc
        except PlaywrightError as exc:
            raise PortalUnavailable(f"could not open {safe_url(url)}") from exc
        if response is not None and response.status >= 500:
            self._raise_if_maintenance()
            raise PortalUnavailable(f"portal answered HTTP {response.status}", url=safe_url(response.url))
        # (a 5xx an iframe got while this page loaded stays noted: the next wait reports it)

    def open(self, path: str, outcomes: Outcomes, **options) -> str:
        """Open a page and wait for one of its answers (see `expect`)."""
        if "#" in path and self.page.url == self.session.url(path):
            # The same hash route again fires no hashchange: a single-page app would keep its old view.
            self.goto("")
        self.goto(path)
        return self.expect(outcomes, **options)

    # -- clicking -----------------------------------------------------------------------------------------
    def click(self, target: str | Locator, outcomes: Outcomes | None = None, *, navigates: bool = False,
              within: Root | None = None, again_if_unanswered: bool = False, **options) -> str | None:
        """Click a control and wait for one of the answers it may bring.

        `navigates`: the click loads a new document, so the old page can never pass as the answer.
        `again_if_unanswered`: a click that only shows something (open a detail, next page) is clicked
        once more when nothing answered and the control is still there (a click lost under load);
        never set it on a click that submits something.
        """
        root = within or self.page
        locator = root.locator(target) if isinstance(target, str) else target
        if locator.count() == 0:
            self.fail(PortalChanged, f"expected control missing: {target if isinstance(target, str) else 'link'}")
        self._server_error = None
        if navigates:
            try:
                with self.page.expect_navigation(wait_until="domcontentloaded") as navigation:
                    locator.first.click()
            except PlaywrightError:  # a timeout, or the request failed (connection reset, aborted)
                self._raise_if_maintenance()
                self.fail(PortalUnavailable, "the portal did not answer")
            response = navigation.value
            if response is not None and response.status >= 500:
                self._raise_if_maintenance()
                self.fail(PortalUnavailable, f"portal answered HTTP {response.status}")
        else:
            locator.first.click()
        if outcomes is None:
            return None
        if not again_if_unanswered:
            return self.expect(outcomes, within=within, **options)
        try:
            return self.expect(outcomes, within=within, **{**options, "changed_error": _NoAnswer})
        except _NoAnswer:
            if locator.count() == 0:
                self.fail(PortalChanged, f"none of the expected outcomes appeared: {sorted(_keys(outcomes))}")
            locator.first.click()
            return self.expect(outcomes, within=within, **options)

    # -- waiting ------------------------------------------------------------------------------------------
    def expect(self, outcomes: Outcomes, *, within: Root | None = None, timeout_ms: float | None = None,
               signed_out_ok: bool = False, changed_error: type[Exception] | None = None,
               errors: dict[str, type[PortalError]] | None = None) -> str:
        """Wait until one of the expected answers is visible and return its key; else a typed error.

        Portals answer a step in several ways (results, no results, an error banner): naming each keeps
        an unknown page from passing as an empty result. The payer's interruptions (maintenance, captcha,
        signed out, error page) are typed errors wherever they appear, in a frame or the page around it;
        so are `errors` (selector -> typed error: a refusal banner), their text the message.
        """
        wanted = {"ok": outcomes} if isinstance(outcomes, str) else dict(outcomes)
        refusals = {f"_refused_{n}": (selector, error) for n, (selector, error) in enumerate((errors or {}).items())}
        wanted.update({key: selector for key, (selector, _error) in refusals.items()})
        roots = [within or self.page] + ([self.page] if within is not None else [])
        interruptions = self.interruptions.selectors(signed_out_ok=signed_out_ok)
        selector = ", ".join([*wanted.values(), *interruptions.values()])
        deadline = time.monotonic() + (timeout_ms if timeout_ms is not None else self.wait_ms) / 1000
        checks = [*interruptions.items(), *wanted.items()]  # interruptions first: they win over any answer
        while True:
            for root in roots:
                # One round trip per root for every plain-CSS selector; Playwright-only ones asked one by one.
                shown = dom.visible(root, [css for _key, css in checks]) or [dom.UNSUPPORTED] * len(checks)
                for (key, css), seen in zip(checks, shown, strict=True):
                    if seen is dom.UNSUPPORTED:
                        seen = root.locator(css).first.is_visible()
                    if seen:
                        if key in interruptions:
                            self._interrupted(key, root)
                        if key in refusals:
                            text = clean_text(root.locator(css).first.inner_text())
                            self.fail(refusals[key][1], f"the portal refused: {text[:120]}")
                        return key
            if getattr(self, "_server_error", None):
                self._raise_if_maintenance()
                self.fail(PortalUnavailable, f"portal answered HTTP {self._server_error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if changed_error is not None:
                    raise changed_error()
                self.fail(PortalChanged, f"none of the expected outcomes appeared: {sorted(_keys(outcomes))}")
            try:  # wake as soon as anything named appears, or every half second to look at 5xx answers
                (within or self.page).locator(selector).first.wait_for(state="visible",
                                                                       timeout=min(remaining, 0.5) * 1000)
            except PlaywrightTimeout:
                pass
            except PlaywrightError:  # the page navigated away mid-wait: look again
                time.sleep(0.05)

    def check_interruptions(self) -> None:
        """Raise the typed error for an interruption page showing now (after a failed download, say)."""
        for key, css in self.interruptions.selectors().items():
            try:
                shown = self.page.locator(css).first.is_visible()
            except PlaywrightError:
                shown = False
            if shown:
                self._interrupted(key, self.page)

    def _interrupted(self, key: str, root: Root) -> None:
        if key == "_error_page":
            text = clean_text(root.locator(self.interruptions.error_page).first.inner_text())
            self.fail(PortalChanged, f"portal error page: {text[:80]}")
        error, message = INTERRUPTION_ERRORS[key]
        self.fail(error, message)

    def _raise_if_maintenance(self) -> None:
        if not self.interruptions.maintenance:
            return
        try:
            shown = self.page.locator(self.interruptions.maintenance).count() > 0
        except PlaywrightError:
            shown = False
        if shown:
            self.fail(MaintenanceWindow, "the portal is down for scheduled maintenance")


class _NoAnswer(Exception):
    """Internal: nothing answered a click yet (it may be clicked once more)."""


def _keys(outcomes: Outcomes) -> list[str]:
    return ["ok"] if isinstance(outcomes, str) else list(outcomes)
