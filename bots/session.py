"""Open one browser context per portal account, reuse its saved login, and log in within the night's budget."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext
from playwright.sync_api import Error as PlaywrightError

from bots.adapter import OneTimeCodeProvider, PortalAdapter, PortalSession
from bots.credentials import Credential, CredentialStore
from bots.errors import PortalError, PortalUnavailable, SessionExpired, SessionUnstable
from bots.evidence import EvidenceStore
from bots.redaction import REDACTOR
from bots.retry import transient_retry

log = logging.getLogger("payerbot.session")
#: images, fonts and media by their file type (the driver matches it, see `account_session`)
MEDIA_URL = re.compile(r"\.(?:png|jpe?g|gif|webp|avif|bmp|ico|svg|woff2?|ttf|otf|eot|mp4|webm|ogg|mp3|wav)(?:[?#]|$)",
                       re.IGNORECASE)


def portal_base_url(adapter_cls: type[PortalAdapter], credential: Credential) -> str:
    """Where this account's portal lives: the credential's override (sandbox, staging) or the manifest."""
    return credential.portal_url or str(adapter_cls.manifest.portal_url)


@dataclass
class LoginBudget:
    """Logins one account may still make tonight: one fresh login plus a few re-logins after an expiry.

    `used` starts at what earlier runs tonight already spent; `on_login` records each attempt (the
    work queue keeps the count, so a killed run's logins still count).
    """

    used: int = 0
    relogins: int = 2
    on_login: Callable[[], None] | None = None
    attempts: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> int:
        """Logins allowed per night."""
        return 1 + self.relogins

    def check(self) -> None:
        """Raise SessionUnstable when no login is left tonight."""
        if self.used >= self.allowed:
            raise SessionUnstable(f"the portal ended the session again after {self.used} logins tonight "
                                  f"(budget {self.allowed}): the account stops until the next night")

    def spend(self) -> None:
        """Count one login attempt that reached the portal's credential check."""
        self.used += 1
        if self.on_login:
            self.on_login()


def ensure_logged_in(adapter: PortalAdapter, budget: LoginBudget | None = None) -> bool:
    """Reuse the saved session if the portal still accepts it; otherwise log in once, within the budget.

    Returns True when a fresh login happened. Every error raised while logging in, except a transient
    one (5xx, time-out) or an expiry, is marked `during_login`: it blocks the account until an operator
    clears it. A refused login is never retried here or anywhere (portals lock accounts).
    """
    events = adapter.session.events
    try:
        if adapter.is_logged_in():
            events.append("session_reused")
            return False
    except (PortalUnavailable, SessionExpired):
        raise
    except PortalError as error:
        error.during_login = True  # the login area itself is not what the adapter knows
        raise
    if budget is not None:
        budget.check()
    start = len(events)
    events.append("login")
    try:
        adapter.login()
    except PortalError as error:
        if not isinstance(error, PortalUnavailable | SessionExpired):
            error.during_login = True
        # Only a 5xx or time-out before the password was sent is free: it never reached the portal's check.
        if budget is not None and (not isinstance(error, PortalUnavailable)
                                   or "credentials_submitted" in events[start:]):
            budget.spend()
        raise
    if budget is not None:
        budget.spend()
    return True


def login_with_retries(adapter: PortalAdapter, budget: LoginBudget | None = None) -> bool:
    """`ensure_logged_in` retried on transient errors only (each retry that sends the password costs budget)."""
    return transient_retry(ensure_logged_in)(adapter, budget)


def block_media(context: BrowserContext) -> None:
    """Never fetch images, fonts or media in this context: most of a real portal's bytes, none of its answers.

    The pattern is matched by the browser's driver, so only these requests ever reach Python (to be refused).
    """
    context.route(MEDIA_URL, lambda route: route.abort("blockedbyclient"))


@contextmanager
def account_session(browser: Browser, adapter_cls: type[PortalAdapter], credential: Credential, *,
                    store: CredentialStore, evidence: EvidenceStore | None = None,
                    one_time_codes: OneTimeCodeProvider | None = None, download_dir: Path | None = None,
                    login: bool = True, budget: LoginBudget | None = None,
                    max_download_bytes: int | None = None) -> Iterator[PortalAdapter]:
    """A logged-in adapter for one account; the login is saved (encrypted) for the next batch or night."""
    REDACTOR.register(credential.password.get_secret_value(),
                      credential.totp_seed.get_secret_value() if credential.totp_seed else None)
    saved = store.load_session(credential)
    context = browser.new_context(storage_state=saved, accept_downloads=True)
    context.set_default_timeout(15_000)
    if not adapter_cls.manifest.fetch_media:
        block_media(context)
    try:
        page = context.new_page()
        session = PortalSession(page=page, context=context, credential=credential,
                                base_url=portal_base_url(adapter_cls, credential),
                                evidence=evidence or EvidenceStore(), one_time_codes=one_time_codes,
                                download_dir=download_dir)
        if max_download_bytes:
            session.max_download_bytes = max_download_bytes
        adapter = adapter_cls(session)
        if login:
            login_with_retries(adapter, budget)
            store.save_session(credential, context.storage_state())
        yield adapter
        if login:
            try:
                store.save_session(credential, context.storage_state())
            except PlaywrightError:
                log.warning("could not save the session for %s", credential.key)
    finally:
        context.close()
