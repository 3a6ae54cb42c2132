"""Work one portal account for a night: uploads, letters, claim status in batches, authorizations.

Everything here is network work. Findings go to a sink after every step or batch, so a crash loses
at most one batch; the sink (the Prefect flow) stores them through `workqueue/`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bots.adapter import PortalAdapter, safe_url
from bots.browser import launch_options
from bots.credentials import Credential, CredentialStore
from bots.errors import (
    AccountLocked,
    CaptchaChallenge,
    LoginFailed,
    MfaRequired,
    PortalChanged,
    PortalError,
    PortalUnavailable,
    SessionExpired,
    UploadNotSupported,
)
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery, Finding, PortalProblem, Provenance, RecordsPacket
from bots.one_time_codes import provider_for
from bots.retry import transient_retry
from bots.session import account_session, ensure_logged_in

log = logging.getLogger("payerbot.runner")

#: errors after which nothing more is tried on this account tonight
STOP_ACCOUNT = (LoginFailed, AccountLocked, MfaRequired, CaptchaChallenge, PortalUnavailable)
#: this many unrecognised pages in a row means the portal changed under us: stop, don't hammer it
MAX_CONSECUTIVE_FAILURES = 3


@dataclass
class AccountWork:
    """What one account must do tonight (built by the planner from the work queue)."""

    payer_id: str
    credential: Credential
    claims: list[ClaimQuery] = field(default_factory=list)
    uploads: list[RecordsPacket] = field(default_factory=list)
    correspondence: bool = False
    correspondence_since: date | None = None
    known_document_ids: set[str] = field(default_factory=set)
    authorizations: bool = False
    batch_size: int = 25


@dataclass
class AccountOutcome:
    """What happened on one account: counts and the error that stopped it, if any (no PHI)."""

    payer_id: str
    account: str
    logged_in_fresh: bool = False
    events: list[str] = field(default_factory=list)
    claims_checked: int = 0
    letters_downloaded: int = 0
    uploads_done: int = 0
    authorizations: int = 0
    problems: int = 0
    stopped_by: str | None = None
    started_at: float = 0.0  # epoch seconds: when the account's browser context opened and closed
    finished_at: float = 0.0


class FindingSink(Protocol):
    """Where findings go: the flow persists them through the work queue."""

    def persist(self, step: str, findings: list[Finding]) -> None: ...

    def mark_uploading(self, packet_ids: list[str]) -> None: ...


def problem_from(error: PortalError, credential: Credential, payer_id: str, *, claim_number: str | None = None,
                 packet_id: str | None = None) -> PortalProblem:
    """A storable record of a typed error: message, URL without query, screenshot path; nothing secret."""
    return PortalProblem(
        error_type=type(error).__name__, message=error.message[:500], claim_number=claim_number,
        packet_id=packet_id,
        provenance=Provenance(payer_id=payer_id, account=credential.account, url=safe_url(error.url or ""),
                              screenshot_path=error.screenshot_path),
    )


@contextmanager
def launched_browser(headless: bool | None = None) -> Iterator[Browser]:
    """One quiet Chromium for this worker (contexts per account are cheap; browsers are not)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(playwright, headless=headless))
        try:
            yield browser
        finally:
            browser.close()


def batches(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class AccountRunner:
    """Runs one account's night in one browser context, logging in at most once."""

    def __init__(self, browser: Browser, adapter_cls: type[PortalAdapter], *, store: CredentialStore,
                 evidence: EvidenceStore, download_dir: Path):
        self.browser = browser
        self.adapter_cls = adapter_cls
        self.store = store
        self.evidence = evidence
        self.download_dir = download_dir

    def run(self, work: AccountWork, sink: FindingSink) -> AccountOutcome:
        """Do the account's work; typed errors become PortalProblem findings, never exceptions."""
        outcome = AccountOutcome(payer_id=work.payer_id, account=work.credential.account, started_at=time.time())
        try:
            return self._run(work, sink, outcome)
        finally:
            outcome.finished_at = time.time()

    def _run(self, work: AccountWork, sink: FindingSink, outcome: AccountOutcome) -> AccountOutcome:
        capabilities = set(self.adapter_cls.manifest.capabilities)
        try:
            with account_session(self.browser, self.adapter_cls, work.credential, store=self.store,
                                 evidence=self.evidence, one_time_codes=provider_for(work.credential),
                                 download_dir=self.download_dir) as adapter:
                outcome.logged_in_fresh = "login" in adapter.session.events
                try:
                    if work.uploads and "upload_records" in capabilities:
                        self._uploads(adapter, work, sink, outcome)
                    elif work.uploads:
                        self._no_uploads(work, sink)
                    if work.correspondence and "download_correspondence" in capabilities:
                        letters = transient_retry(adapter.download_correspondence)(
                            work.correspondence_since, work.known_document_ids)
                        sink.persist("correspondence", list(letters))
                        outcome.letters_downloaded = len(letters)
                    if "check_claim_status" in capabilities:
                        self._claims(adapter, work, sink, outcome)
                    if work.authorizations and "pull_authorizations" in capabilities:
                        auths = transient_retry(adapter.pull_authorizations)()
                        sink.persist("authorizations", list(auths))
                        outcome.authorizations = len(auths)
                finally:
                    outcome.events = list(adapter.session.events)
        except PortalError as error:
            # Login refused, locked, MFA, captcha, portal down: one problem, and nothing more tonight.
            outcome.stopped_by = type(error).__name__
            outcome.problems += 1
            sink.persist("problem", [problem_from(error, work.credential, work.payer_id)])
        return outcome

    def _uploads(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink,
                 outcome: AccountOutcome) -> None:
        for packet in work.uploads:
            # Recorded before the portal sees the file: a crash after this point is never re-uploaded blindly.
            sink.mark_uploading([packet.packet_id])
            try:
                confirmation = adapter.upload_records(packet)
            except STOP_ACCOUNT:
                raise
            except PortalError as error:
                outcome.problems += 1
                sink.persist("upload", [problem_from(error, work.credential, work.payer_id,
                                                     claim_number=packet.claim_number, packet_id=packet.packet_id)])
                continue
            sink.persist("upload", [confirmation])
            outcome.uploads_done += 1

    @staticmethod
    def _no_uploads(work: AccountWork, sink: FindingSink) -> None:
        """Queued packets for a portal without uploads go back to a person at once, not after three nights."""
        error = UploadNotSupported("this payer's portal takes no uploads: send the packet by fax, mail or "
                                   "the clearinghouse")
        sink.persist("upload", [problem_from(error, work.credential, work.payer_id, claim_number=p.claim_number,
                                             packet_id=p.packet_id) for p in work.uploads])

    def _claims(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink,
                outcome: AccountOutcome) -> None:
        consecutive_failures = 0
        for batch in batches(work.claims, work.batch_size):
            findings: list[Finding] = []
            try:
                for claim in batch:
                    try:
                        findings.append(self._check_one(adapter, claim))
                        consecutive_failures = 0
                    except STOP_ACCOUNT:
                        raise
                    except PortalError as error:
                        consecutive_failures += 1
                        outcome.problems += 1
                        findings.append(problem_from(error, work.credential, work.payer_id,
                                                     claim_number=claim.claim_number))
                        if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                            outcome.stopped_by = type(error).__name__
                            return
            finally:
                outcome.claims_checked += sum(1 for f in findings if f.kind == "claim_status")
                sink.persist("claim_status", findings)

    @staticmethod
    def _check_one(adapter: PortalAdapter, claim: ClaimQuery) -> Finding:
        try:
            try:
                return transient_retry(adapter.check_claim_status)(claim)
            except SessionExpired:
                # The portal logged us out mid-run: the saved login was good an hour ago, so log in once more.
                ensure_logged_in(adapter)
                return transient_retry(adapter.check_claim_status)(claim)
        except PlaywrightError as error:
            # A browser error the adapter did not anticipate means the page is not what it expects. The
            # browser's message is left out: it can quote page text.
            adapter.fail(PortalChanged, f"unexpected {type(error).__name__} while checking a claim")
