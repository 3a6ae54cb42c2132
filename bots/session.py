"""Open one browser context per portal account, reuse its saved login, and log in at most once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from bots.adapter import OneTimeCodeProvider, PortalAdapter, PortalSession
from bots.credentials import Credential, CredentialStore
from bots.evidence import EvidenceStore
from bots.redaction import REDACTOR

log = logging.getLogger("payerbot.session")


def portal_base_url(adapter_cls: type[PortalAdapter], credential: Credential) -> str:
    """Where this account's portal lives: the credential's override (sandbox, staging) or the manifest."""
    return credential.portal_url or str(adapter_cls.manifest.portal_url)


def ensure_logged_in(adapter: PortalAdapter) -> bool:
    """Reuse the saved session if the portal still accepts it; otherwise log in exactly once.

    Returns True when a fresh login happened. LoginFailed and its kin propagate untouched:
    a refused login is never retried here or anywhere (portals lock accounts).
    """
    if adapter.is_logged_in():
        adapter.session.events.append("session_reused")
        return False
    adapter.session.events.append("login")
    adapter.login()
    return True


@contextmanager
def account_session(browser: Browser, adapter_cls: type[PortalAdapter], credential: Credential, *,
                    store: CredentialStore, evidence: EvidenceStore | None = None,
                    one_time_codes: OneTimeCodeProvider | None = None, download_dir: Path | None = None,
                    login: bool = True) -> Iterator[PortalAdapter]:
    """A logged-in adapter for one account; the login is saved (encrypted) for the next batch or night."""
    REDACTOR.register(credential.password.get_secret_value(),
                      credential.totp_seed.get_secret_value() if credential.totp_seed else None)
    saved = store.load_session(credential)
    context = browser.new_context(storage_state=saved, accept_downloads=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        session = PortalSession(page=page, context=context, credential=credential,
                                base_url=portal_base_url(adapter_cls, credential),
                                evidence=evidence or EvidenceStore(), one_time_codes=one_time_codes,
                                download_dir=download_dir)
        adapter = adapter_cls(session)
        if login:
            ensure_logged_in(adapter)
            store.save_session(credential, context.storage_state())
        yield adapter
        if login:
            try:
                store.save_session(credential, context.storage_state())
            except PlaywrightError:
                log.warning("could not save the session for %s", credential.key)
    finally:
        context.close()
