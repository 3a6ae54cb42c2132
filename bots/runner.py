"""Work one portal account for a night: uploads, letters, claim status in batches, authorizations.

Everything here is network work. Findings go to a sink after every step or batch, so a crash loses
at most one batch; the sink (the Prefect flow) stores them through `workqueue/`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
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
    MaintenanceWindow,
    MfaRequired,
    PortalChanged,
    PortalError,
    SessionExpired,
    SessionUnstable,
    UploadNotSupported,
)
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery, Finding, PortalProblem, Provenance, RecordsPacket, UploadConfirmation
from bots.one_time_codes import provider_for
from bots.retry import is_transient, transient_retry
from bots.session import LoginBudget, account_session, login_with_retries
from bots.session_pages import check_side_by_side, side_by_side

log = logging.getLogger("payerbot.runner")

#: errors after which nothing more is tried on this account tonight (a maintenance page: until later tonight)
STOP_ACCOUNT = (LoginFailed, AccountLocked, MfaRequired, CaptchaChallenge, SessionUnstable, MaintenanceWindow)
#: this many failed claims in a row means the portal changed or is down: stop, don't hammer it
MAX_CONSECUTIVE_FAILURES = 3


@dataclass
class AccountWork:
    """What one account must do tonight (built by the planner from the work queue)."""

    payer_id: str
    credential: Credential
    claims: list[ClaimQuery] = field(default_factory=list)
    uploads: list[RecordsPacket] = field(default_factory=list)
    #: packets whose earlier upload has an unknown outcome: looked up in the portal's history first
    reconcile: list[RecordsPacket] = field(default_factory=list)
    correspondence: bool = False
    correspondence_since: date | None = None
    known_document_ids: set[str] = field(default_factory=set)
    authorizations: bool = False
    batch_size: int = 25
    logins_used: int = 0  # logins this account already made tonight (earlier runs)
    relogins: int = 2  # re-logins allowed after the portal ends the session
    max_download_bytes: int | None = None


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
    uploads_reconciled: int = 0
    authorizations: int = 0
    problems: int = 0
    logins: int = 0
    stopped_by: str | None = None
    deferred: bool = False  # a maintenance page: the flow tries this account again later tonight
    skipped: str | None = None  # why the account was not worked at all (held by another live run)
    started_at: float = 0.0  # epoch seconds: when the account's browser context opened and closed
    finished_at: float = 0.0
    # what is done, so that a deferred account picks up where it stopped
    claims_done: list[str] = field(default_factory=list)
    packets_done: list[str] = field(default_factory=list)
    letters_done: bool = False
    authorizations_done: bool = False


class FindingSink(Protocol):
    """Where findings go: the flow persists them through the work queue."""

    def persist(self, step: str, findings: list[Finding]) -> None: ...

    def mark_uploading(self, packet_ids: list[str]) -> None: ...

    def mark_unconfirmed(self, packet_ids: list[str]) -> None: ...

    def record_login(self, payer_id: str, account: str) -> None: ...


def problem_from(error: PortalError, credential: Credential, payer_id: str, *, claim_number: str | None = None,
                 packet_id: str | None = None) -> PortalProblem:
    """A storable record of a typed error: message, URL without query, screenshot path; nothing secret."""
    return PortalProblem(
        error_type=type(error).__name__, message=error.message[:500], claim_number=claim_number,
        packet_id=packet_id, during_login=error.during_login, page_html_path=error.page_html_path,
        provenance=Provenance(payer_id=payer_id, account=credential.account, url=safe_url(error.url or ""),
                              screenshot_path=error.screenshot_path),
    )


@contextmanager
def launched_browser(headless: bool | None = None, *, endpoint: str | None = None) -> Iterator[Browser]:
    """The worker's shared Chromium when `endpoint` names its server (bots.browser_server), else one of our own.

    Contexts per account are cheap; browsers are not. Closing a connected browser only disconnects.
    """
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect(endpoint) if endpoint else \
            playwright.chromium.launch(**launch_options(playwright, headless=headless))
        try:
            yield browser
        finally:
            browser.close()


def batches(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Unknown:
    """The portal's history could not be read: an upload's outcome stays unknown."""


UNKNOWN = _Unknown()


class AccountRunner:
    """Runs one account's night in one browser context, within the account's login budget."""

    def __init__(self, browser: Browser, adapter_cls: type[PortalAdapter], *, store: CredentialStore,
                 evidence: EvidenceStore, download_dir: Path, stop_payer: threading.Event | None = None,
                 lease_lost: threading.Event | None = None):
        self.browser = browser
        self.adapter_cls = adapter_cls
        self.store = store
        self.evidence = evidence
        self.download_dir = download_dir
        # Set by any lane of the same payer that found the portal changed: the others stop too.
        self.stop_payer = stop_payer or threading.Event()
        # Set when this run could not renew its hold on the account (another run may work it now): stop.
        self.lease_lost = lease_lost or threading.Event()
        self.budget = LoginBudget()

    def run(self, work: AccountWork, sink: FindingSink) -> AccountOutcome:
        """Do the account's work; typed errors become PortalProblem findings, never exceptions."""
        outcome = AccountOutcome(payer_id=work.payer_id, account=work.credential.account, started_at=time.time())
        if self.stop_payer.is_set():  # another lane found the portal changed tonight: not even a login
            outcome.stopped_by, outcome.finished_at = "PortalChanged", time.time()
            return outcome
        try:
            return self._run(work, sink, outcome)
        finally:
            outcome.finished_at = time.time()
            outcome.logins = self.budget.used - work.logins_used

    def _run(self, work: AccountWork, sink: FindingSink, outcome: AccountOutcome) -> AccountOutcome:
        capabilities = set(self.adapter_cls.manifest.capabilities)
        self.budget = LoginBudget(used=work.logins_used, relogins=work.relogins,
                                  on_login=lambda: sink.record_login(work.payer_id, work.credential.account))
        try:
            with account_session(self.browser, self.adapter_cls, work.credential, store=self.store,
                                 evidence=self.evidence, one_time_codes=provider_for(work.credential),
                                 download_dir=self.download_dir, budget=self.budget,
                                 max_download_bytes=work.max_download_bytes) as adapter:
                outcome.logged_in_fresh = "login" in adapter.session.events
                adapter.downloads_at_once = self.adapter_cls.manifest.downloads_per_session
                try:
                    self._work(adapter, work, sink, outcome, capabilities)
                finally:
                    outcome.events = list(adapter.session.events)
        except MaintenanceWindow:
            # Not a problem yet: the flow tries again later tonight and reports it if the portal stays down.
            outcome.stopped_by, outcome.deferred = "MaintenanceWindow", True
        except PortalError as error:
            # Login refused, locked, MFA, captcha, session unstable, portal changed: one problem, nothing more.
            outcome.stopped_by = type(error).__name__
            outcome.problems += 1
            if isinstance(error, PortalChanged):
                self.stop_payer.set()
            sink.persist("problem", [problem_from(error, work.credential, work.payer_id)])
        return outcome

    def _work(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink, outcome: AccountOutcome,
              capabilities: set[str]) -> None:
        if (work.uploads or work.reconcile) and "upload_records" in capabilities:
            # Unknown outcomes first: nothing is sent until the portal's own history has been read.
            pending = self._reconcile(adapter, work, sink, outcome)
            self._uploads(adapter, pending + work.uploads, work, sink, outcome)
        elif work.uploads or work.reconcile:
            self._no_uploads(work, sink, outcome)
        if work.correspondence and "download_correspondence" in capabilities and self._go_on(outcome):
            letters = self._optional_step(adapter, work, sink, outcome, adapter.download_correspondence,
                                          work.correspondence_since, work.known_document_ids)
            if letters is not None:
                sink.persist("correspondence", list(letters))
                outcome.letters_done = True
                outcome.letters_downloaded = sum(1 for f in letters if f.kind == "correspondence")
                outcome.problems += sum(1 for f in letters if f.kind == "portal_problem")
        if "check_claim_status" in capabilities and self._go_on(outcome):
            self._claims(adapter, work, sink, outcome)
        if work.authorizations and "pull_authorizations" in capabilities and self._go_on(outcome):
            auths = self._optional_step(adapter, work, sink, outcome, adapter.pull_authorizations)
            if auths is not None:
                sink.persist("authorizations", list(auths))
                outcome.authorizations, outcome.authorizations_done = len(auths), True

    def _optional_step(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink, outcome: AccountOutcome,
                       step: Callable, *args):
        """A step whose transient failure (after retries) is one problem, not the end of the account's night."""
        try:
            return self._step(adapter, step, *args)
        except STOP_ACCOUNT:
            raise
        except PortalError as error:
            if not is_transient(error):
                raise
            outcome.problems += 1
            sink.persist("problem", [problem_from(error, work.credential, work.payer_id)])
            return None

    def _go_on(self, outcome: AccountOutcome) -> bool:
        """False once another lane of this payer found the portal changed, the lease was lost, or this lane stopped."""
        if outcome.stopped_by is None and self.lease_lost.is_set():
            outcome.stopped_by = "LeaseLost"
        if self.stop_payer.is_set() and outcome.stopped_by is None:
            outcome.stopped_by = "PortalChanged"
        return outcome.stopped_by is None

    def _step(self, adapter: PortalAdapter, step: Callable, *args):
        """One portal step: transient errors retried with backoff; a session the portal ended, logged in again.

        Each re-login spends the account's budget: a portal that keeps ending sessions stops the account
        with SessionUnstable instead of getting a login per claim.
        """
        while True:
            try:
                try:
                    return transient_retry(step)(*args)
                except PlaywrightError as error:
                    # A browser error the adapter did not anticipate means the page is not what it expects.
                    # The browser's message is left out: it can quote page text.
                    adapter.fail(PortalChanged, f"unexpected {type(error).__name__} during {step.__name__}")
            except SessionExpired:
                login_with_retries(adapter, self.budget)

    # -- uploads ------------------------------------------------------------------------------------------
    def _look_up(self, adapter: PortalAdapter, packet: RecordsPacket) -> UploadConfirmation | None | _Unknown:
        """The packet in the portal's submission history, None if it is not there, UNKNOWN if unreadable."""
        try:
            return self._step(adapter, adapter.find_submission, packet)
        except STOP_ACCOUNT:
            raise
        except PortalError as error:
            log.warning("%s/%s: submission history unreadable: %s", adapter.manifest.id,
                        adapter.session.credential.account, type(error).__name__)
            return UNKNOWN

    def _reconcile(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink,
                   outcome: AccountOutcome) -> list[RecordsPacket]:
        """Confirm packets the portal already has; return those it does not have (they may go again)."""
        not_there = []
        for packet in work.reconcile:
            if packet.packet_id in outcome.packets_done:
                continue
            found = self._look_up(adapter, packet)
            if isinstance(found, _Unknown):
                outcome.problems += 1
                continue  # stays unconfirmed for the next night: never sent blindly
            if found is None:
                not_there.append(packet)
                continue
            sink.persist("upload", [found])
            outcome.uploads_reconciled += 1
            outcome.packets_done.append(packet.packet_id)
        return not_there

    def _uploads(self, adapter: PortalAdapter, packets: list[RecordsPacket], work: AccountWork,
                 sink: FindingSink, outcome: AccountOutcome) -> None:
        for packet in packets:
            if not self._go_on(outcome):
                return
            if packet.packet_id not in outcome.packets_done:
                self._upload(adapter, packet, work, sink, outcome)
                outcome.packets_done.append(packet.packet_id)

    def _upload(self, adapter: PortalAdapter, packet: RecordsPacket, work: AccountWork, sink: FindingSink,
                outcome: AccountOutcome) -> None:
        """Send one packet; after any error the portal's history decides, never a blind second submit."""
        for attempt in (1, 2):
            # Recorded before the portal sees the file: a crash after this point is reconciled, not resent.
            sink.mark_uploading([packet.packet_id])
            try:
                confirmation = adapter.upload_records(packet)
            except STOP_ACCOUNT:
                sink.mark_unconfirmed([packet.packet_id])
                raise
            except (PortalError, PlaywrightError) as error:
                if isinstance(error, PlaywrightError):
                    error = PortalChanged(f"unexpected {type(error).__name__} during upload_records")
                try:
                    found = self._look_up(adapter, packet)
                except STOP_ACCOUNT:
                    sink.mark_unconfirmed([packet.packet_id])
                    raise
                if isinstance(found, _Unknown):
                    sink.mark_unconfirmed([packet.packet_id])
                    outcome.problems += 1
                    return
                if found is not None:
                    sink.persist("upload", [found])
                    outcome.uploads_reconciled += 1
                    return
                if attempt == 1 and (isinstance(error, SessionExpired) or is_transient(error)):
                    continue  # the portal does not have it: one more try is safe
                outcome.problems += 1
                sink.persist("upload", [problem_from(error, work.credential, work.payer_id,
                                                     claim_number=packet.claim_number, packet_id=packet.packet_id)])
                return
            sink.persist("upload", [confirmation])
            outcome.uploads_done += 1
            return

    @staticmethod
    def _no_uploads(work: AccountWork, sink: FindingSink, outcome: AccountOutcome) -> None:
        """Queued packets for a portal without uploads go back to a person at once, not after three nights."""
        error = UploadNotSupported("this payer's portal takes no uploads: send the packet by fax, mail or "
                                   "the clearinghouse")
        packets = [p for p in work.uploads + work.reconcile if p.packet_id not in outcome.packets_done]
        sink.persist("upload", [problem_from(error, work.credential, work.payer_id, claim_number=p.claim_number,
                                             packet_id=p.packet_id) for p in packets])
        outcome.packets_done += [p.packet_id for p in packets]

    # -- claims -------------------------------------------------------------------------------------------
    def _claims(self, adapter: PortalAdapter, work: AccountWork, sink: FindingSink,
                outcome: AccountOutcome) -> None:
        done = set(outcome.claims_done)
        todo = [c for c in work.claims if c.claim_number not in done]
        retry_later: list[ClaimQuery] = []
        state = {"failures": 0}
        every, since_fresh = self.adapter_cls.manifest.fresh_tab_every, 0
        for batch in batches(todo, work.batch_size):
            if adapter.claims_without_tab():
                # Checks that only fetch draw nothing: the session holds no renderer while they run (a sign-in
                # after an expiry opens the tab again; the next batch parks it again).
                adapter.park_tab()
            elif every and since_fresh >= every:
                adapter.fresh_tab()  # a long night in one tab grows its renderer: a new tab, same login
                since_fresh = 0
            if not self._go_on(outcome) or not self._claim_batch(adapter, batch, work, sink, outcome, state,
                                                                 retry_later):
                return
            since_fresh += len(batch)
        # Claims the portal failed on (after retries) get one more pass at the end, when it may have recovered.
        if retry_later and self._go_on(outcome):
            state["failures"] = 0
            self._claim_batch(adapter, retry_later, work, sink, outcome, state, None)

    def _checked(self, adapter: PortalAdapter, claim: ClaimQuery, ready: Finding | BaseException | None) -> Finding:
        """A claim's finding: the one another page of the session made, or the lane's own check.

        The lane checks again what a page could not finish for a reason the lane handles itself (an ended
        session: a login within budget; a browser error; none made yet); a page's other typed error stands.
        """
        if isinstance(ready, Finding):
            return ready
        if isinstance(ready, PortalError) and not isinstance(ready, SessionExpired):
            raise ready
        return self._step(adapter, adapter.check_claim_status, claim)

    def _claim_batch(self, adapter: PortalAdapter, batch: list[ClaimQuery], work: AccountWork, sink: FindingSink,
                     outcome: AccountOutcome, state: dict, retry_later: list[ClaimQuery] | None) -> bool:
        """Check one batch and persist it; False when the account must stop."""
        findings: list[Finding] = []
        pages = self.adapter_cls.manifest.pages_per_session
        ready = check_side_by_side(adapter, batch, pages) if side_by_side(adapter, pages) and len(batch) > 1 else {}
        try:
            for claim in batch:
                if not self._go_on(outcome):
                    return False
                try:
                    findings.append(self._checked(adapter, claim, ready.pop(claim.claim_number, None)))
                    state["failures"] = 0
                except STOP_ACCOUNT:
                    raise
                except PortalError as error:
                    state["failures"] += 1
                    if is_transient(error) and retry_later is not None:
                        retry_later.append(claim)
                    else:
                        outcome.problems += 1
                        findings.append(problem_from(error, work.credential, work.payer_id,
                                                     claim_number=claim.claim_number))
                    if state["failures"] >= MAX_CONSECUTIVE_FAILURES:
                        outcome.stopped_by = type(error).__name__
                        if isinstance(error, PortalChanged):
                            self.stop_payer.set()
                        elif is_transient(error) and retry_later is not None:
                            outcome.problems += 1
                            findings.append(problem_from(error, work.credential, work.payer_id))
                        return False
        finally:
            # Checks the session's other pages made before the lane stopped are kept: never looked up twice.
            findings += [result for result in ready.values() if isinstance(result, Finding)]
            checked = [f.claim_number for f in findings if f.kind == "claim_status"]
            outcome.claims_checked += len(checked)
            outcome.claims_done += checked
            sink.persist("claim_status", findings)
        return True
