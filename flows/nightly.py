"""The nightly flow: plan from the work queue, work each account in one browser session, persist per batch."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, replace
from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.futures import wait

from bots.browser_server import shared_browser
from bots.credentials import Credential, CredentialStore
from bots.errors import MaintenanceWindow
from bots.evidence import EvidenceStore, payerbot_home
from bots.files import private_umask
from bots.findings import ClaimQuery, Finding, RecordsPacket
from bots.registry import get_adapter, registry
from bots.runner import AccountOutcome, AccountRunner, AccountWork, launched_browser, problem_from
from flows.assign import assign_payer
from flows.edi_intake import import_inbox, inbox_summary
from flows.payer_stop import shared_payer_stop
from workqueue import accounts
from workqueue.config import Rules, load_rules
from workqueue.db import get_engine, init_db, session_scope
from workqueue.edi_import import visits_saved_since
from workqueue.persist import persist_findings
from workqueue.planning import mark_unconfirmed, mark_uploading, plan_night
from workqueue.practice_rows import record_account_practices
from workqueue.runs import finish_run, previous_run_started, start_run
from workqueue.tasks import worklist_summary

_log = logging.getLogger(__name__)
# Findings from several accounts arrive at once; the work queue takes them one batch at a time.
_persist_lock = threading.Lock()
_session_limits: dict[str, threading.BoundedSemaphore] = {}
_limits_lock = threading.Lock()
# One flag per (run, payer): the first lane that finds the portal changed stops the payer's other lanes.
_payer_stops: dict[tuple[int, str], threading.Event] = {}


def _session_limit(payer_id: str) -> threading.BoundedSemaphore:
    """Per-payer cap on concurrent logged-in sessions, sized by the manifest's max_sessions."""
    with _limits_lock:
        if payer_id not in _session_limits:
            _session_limits[payer_id] = threading.BoundedSemaphore(get_adapter(payer_id).manifest.max_sessions)
        return _session_limits[payer_id]


@task(cache_policy=NO_CACHE)
def open_run(payer_ids: list[str] | None) -> tuple[int, list[int]]:
    """Create the database if needed, mark runs whose process died as interrupted, record this run's start."""
    engine = get_engine()
    init_db(engine)
    context = get_run_context()
    flow_run_id = str(context.flow_run.id) if getattr(context, "flow_run", None) else None
    with session_scope(engine) as session:
        interrupted = accounts.interrupt_dead_runs(session, stale_after_s=3 * load_rules().night.lease_seconds)
        run_id = start_run(session, flow_run_id=flow_run_id, payer_ids=payer_ids or sorted(registry()),
                           holder=accounts.this_holder())
    return run_id, interrupted


@task(cache_policy=NO_CACHE)
def import_edi_inbox() -> dict:
    """Import the clearinghouse files waiting in $PAYERBOT_HOME/edi/inbox/ (each all or nothing); counts only."""
    logger = get_run_logger()
    outcomes = import_inbox()
    for outcome in outcomes:  # file names, counts, segment and element: never a value from a file
        (logger.warning if outcome.error else logger.info)("clearinghouse file %s", outcome.line())
    return inbox_summary(outcomes)


@task(cache_policy=NO_CACHE)
def plan_work(payer_ids: list[str] | None, force: bool) -> tuple[list[AccountWork], dict[str, str]]:
    """Who does what tonight: claims due, uploads queued or to reconcile, letters and authorizations, per account.

    Blocked accounts are left out (their practice's claims go to its other accounts); each practice's work goes
    to its own accounts only (flows.assign); skipped entries are keyed by payer, payer/account or payer@practice.
    """
    store = CredentialStore()
    rules = load_rules()
    with session_scope(get_engine()) as session:
        # Recorded first: what tonight's findings persist through an account belongs to the account's practice.
        record_account_practices(session, [(c.payer_id, c.account, c.practice) for c in store.all()])
        plan = plan_night(session, payer_ids=payer_ids, force=force)
        used = {(c.payer_id, c.account): accounts.logins_tonight(session, c.payer_id, c.account)
                for c in store.all()}
    skipped = dict(plan.skipped)
    works: list[AccountWork] = []
    payers = set(plan.claims) | set(plan.uploads) | set(plan.correspondence_since)
    payers |= {p for p in registry() if payer_ids is None or p in payer_ids}
    for payer_id in sorted(payers - set(skipped)):
        if payer_id not in registry():
            skipped[payer_id] = "no adapter registered"
            continue
        credentials = store.for_payer(payer_id)
        if not credentials:
            skipped[payer_id] = "no credentials stored"
            continue
        for credential in credentials:
            if (payer_id, credential.account) in plan.blocked:
                skipped[f"{payer_id}/{credential.account}"] = plan.blocked[(payer_id, credential.account)]
        shares, unserved = assign_payer(
            payer_id, credentials, plan.claims.get(payer_id, []), uploads=plan.uploads.get(payer_id, []),
            reconcile=plan.reconcile.get(payer_id, []), practice_of_packet=plan.practice_of_packet,
            correspondence_since={practice: since for (payer, practice), since
                                  in plan.correspondence_since_by_practice.items() if payer == payer_id},
            blocked=frozenset(a for p, a in plan.blocked if p == payer_id))
        skipped.update(unserved)
        if not shares:
            continue
        for share in shares:
            works.append(account_work(
                payer_id, share.credential, claims=share.claims, uploads=share.uploads, reconcile=share.reconcile,
                correspondence=share.correspondence, correspondence_since=share.correspondence_since,
                known_document_ids=plan.known_document_ids.get(payer_id, set()),
                logins_used=used.get((payer_id, share.credential.account), 0), rules=rules))
    return works, skipped


def account_work(payer_id: str, credential: Credential, *, claims: list[ClaimQuery], uploads: list[RecordsPacket],
                 reconcile: list[RecordsPacket], correspondence: bool, correspondence_since: date | None,
                 known_document_ids: set[str], logins_used: int, rules: Rules | None = None) -> AccountWork:
    """One account's night from its share of the plan, with the manifest's batch size and the rules' limits."""
    rules = rules or load_rules()
    return AccountWork(
        payer_id=payer_id, credential=credential, claims=claims, uploads=uploads, reconcile=reconcile,
        correspondence=correspondence, correspondence_since=correspondence_since,
        known_document_ids=known_document_ids, authorizations=correspondence,
        batch_size=get_adapter(payer_id).manifest.batch_size, logins_used=logins_used,
        relogins=rules.night.relogins_per_night, max_download_bytes=int(rules.limits.max_download_mb * 1024 * 1024))


@task(cache_policy=NO_CACHE)
def persist_batch(step: str, findings: list[Finding], run_id: int) -> dict:
    """Store one batch of findings through the work queue (tasks, history, documents)."""
    with _persist_lock, session_scope(get_engine()) as session:
        report = persist_findings(session, findings, run_id=run_id)
    return report.as_dict()


@task(cache_policy=NO_CACHE)
def record_uploading(packet_ids: list[str]) -> None:
    """Mark packets as handed to the portal before the upload starts (crash safety)."""
    with _persist_lock, session_scope(get_engine()) as session:
        mark_uploading(session, packet_ids)


def _db(action, *args, **kwargs):
    """Run one small work-queue write under the persistence lock, in its own transaction."""
    with _persist_lock, session_scope(get_engine()) as session:
        return action(session, *args, **kwargs)


class _FlowSink:
    """Hands each batch to the persistence task as soon as the portal work for it is done."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.counts: Counter[str] = Counter()

    def persist(self, step: str, findings: list[Finding]) -> None:
        if not findings:
            return
        report = persist_batch(step, findings, self.run_id)
        self.counts.update({k: v for k, v in report.items() if isinstance(v, int)})

    def mark_uploading(self, packet_ids: list[str]) -> None:
        record_uploading(packet_ids)

    def mark_unconfirmed(self, packet_ids: list[str]) -> None:
        _db(mark_unconfirmed, packet_ids)

    def record_login(self, payer_id: str, account: str) -> None:
        # Stored at once: a run killed after this login still counts it against tonight's budget.
        _db(accounts.record_login, payer_id, account)


@contextmanager
def _account_lease(work: AccountWork, run_id: int) -> Iterator[tuple[accounts.LeaseRefused | None, threading.Event]]:
    """Hold the account for this run (renewed in the background) or say who holds it; released at the end.

    Yields (refused, lost): `refused` says who holds the account instead; `lost` is set if a renewal finds
    the lease gone (this process stalled past it and another run took the account), and the lane stops.
    """
    seconds = load_rules().night.lease_seconds
    payer, account = work.payer_id, work.credential.account
    lost = threading.Event()
    refused = _db(accounts.acquire_lease, payer, account, run_id=run_id, seconds=seconds)
    if refused is not None:
        yield refused, lost
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(seconds / 3):
            try:
                if not _db(accounts.renew_lease, payer, account, run_id=run_id, seconds=seconds):
                    lost.set()
                    return
                _db(accounts.heartbeat, run_id)
            except Exception as error:  # a database hiccup: try again at the next beat, the lease still runs
                _log.warning("%s/%s: lease renewal failed (%s)", payer, account, type(error).__name__)

    renewer = threading.Thread(target=renew, name=f"lease-{payer}-{account}", daemon=True)
    renewer.start()
    try:
        yield None, lost
    finally:
        done.set()
        renewer.join(timeout=10)
        _db(accounts.release_lease, payer, account, run_id=run_id)


def _remaining(work: AccountWork, done: AccountOutcome) -> AccountWork:
    """What is left of an account's work after a deferred attempt."""
    claims_done, packets_done = set(done.claims_done), set(done.packets_done)
    return replace(work, claims=[c for c in work.claims if c.claim_number not in claims_done],
                   uploads=[p for p in work.uploads if p.packet_id not in packets_done],
                   reconcile=[p for p in work.reconcile if p.packet_id not in packets_done],
                   correspondence=work.correspondence and not done.letters_done,
                   authorizations=work.authorizations and not done.authorizations_done,
                   logins_used=work.logins_used + done.logins)


def _by_payer(outcomes: list[dict]) -> dict[str, dict[str, int]]:
    """Claims checked and problems per payer (the dashboard's bot success per night reads these)."""
    by_payer: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        row = by_payer.setdefault(outcome["payer_id"], {"accounts": 0, "claims_checked": 0, "problems": 0})
        row["accounts"] += 1
        row["claims_checked"] += int(outcome.get("claims_checked") or 0)
        row["problems"] += int(outcome.get("problems") or 0)
    return by_payer


def _merge(total: AccountOutcome, part: AccountOutcome) -> None:
    """Add one attempt's outcome to the account's night."""
    for name in ("claims_checked", "letters_downloaded", "uploads_done", "uploads_reconciled", "authorizations",
                 "problems", "logins"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.claims_done += part.claims_done
    total.packets_done += part.packets_done
    total.letters_done |= part.letters_done
    total.authorizations_done |= part.authorizations_done
    total.logged_in_fresh |= part.logged_in_fresh
    total.events += part.events
    total.stopped_by, total.deferred = part.stopped_by, part.deferred
    total.finished_at = part.finished_at


def work_lane(work: AccountWork, run_id: int, maintenance_wait_s: float, browser_endpoint: str | None = None, *,
              session_slot: Callable[[], AbstractContextManager] | None = None,
              stop_payer: threading.Event | None = None) -> tuple[dict, dict]:
    """One account's night: the lease, the payer's session cap, the work, maintenance deferral; (outcome, counts).

    Shared by the one-process night (`work_account`) and the cluster's flow run per account (flows.cluster):
    `session_slot` is the payer's cap (default: this process's semaphore; the cluster: a Prefect global
    concurrency limit) and `stop_payer` the flag the payer's lanes share in this process (default: this
    run's); through the database it reaches the payer's lanes on other workers too (flows.payer_stop).
    The lane opens its context in the worker's shared Chromium (`browser_endpoint`), or its own without one.
    """
    logger = get_run_logger()
    sink = _FlowSink(run_id)
    home = payerbot_home()
    total = AccountOutcome(payer_id=work.payer_id, account=work.credential.account, started_at=time.time())
    with _account_lease(work, run_id) as (refused, lease_lost):
        if refused is not None:
            total.skipped = f"not worked: {refused}"
            logger.warning("%s/%s skipped: %s", work.payer_id, work.credential.account, refused)
            return asdict(total), {}
        deadline = time.monotonic() + maintenance_wait_s
        retry_s = max(5.0, min(load_rules().night.maintenance_retry_minutes * 60, maintenance_wait_s / 4))
        deferrals = 0
        if stop_payer is None:
            stop_payer = _payer_stops.setdefault((run_id, work.payer_id), threading.Event())
        slot = session_slot() if session_slot is not None else _session_limit(work.payer_id)
        shared_stop = shared_payer_stop(run_id, work.payer_id, work.credential.account, stop_payer, _db)
        with shared_stop, slot, launched_browser(endpoint=browser_endpoint) as browser:
            runner = AccountRunner(browser, get_adapter(work.payer_id), store=CredentialStore(),
                                   evidence=EvidenceStore(), download_dir=home / "downloads" / f"run-{run_id}",
                                   stop_payer=stop_payer, lease_lost=lease_lost)
            todo = work
            while True:
                part: AccountOutcome = runner.run(todo, sink)
                if todo is work:
                    total.started_at = part.started_at  # when the browser context opened (after any wait)
                _merge(total, part)
                if not part.deferred or lease_lost.is_set():
                    break
                if time.monotonic() + retry_s > deadline:
                    # Still down when the window closes: one operator task, and the next night tries again.
                    error = MaintenanceWindow(f"the portal showed its maintenance page {deferrals + 1} times over "
                                              f"{maintenance_wait_s / 60:g} minutes tonight; the bot tries again "
                                              "next night")
                    sink.persist("problem", [problem_from(error, work.credential, work.payer_id)])
                    total.problems += 1
                    break
                deferrals += 1
                logger.info("%s/%s: maintenance page, trying again in %.0f s", work.payer_id,
                            work.credential.account, retry_s)
                time.sleep(retry_s)
                todo = _remaining(work, total)
        total.deferred = deferrals > 0 or total.deferred
        if deferrals:
            total.events.append(f"deferred x{deferrals}")
    logger.info("%s/%s: %d claims checked, %d letters, %d uploads (%d reconciled), %d authorizations, %d logins, "
                "%d problems%s", work.payer_id, work.credential.account, total.claims_checked,
                total.letters_downloaded, total.uploads_done, total.uploads_reconciled, total.authorizations,
                total.logins, total.problems, f", stopped by {total.stopped_by}" if total.stopped_by else "")
    return asdict(total), dict(sink.counts)


@task(cache_policy=NO_CACHE, task_run_name="work-{work.payer_id}-{work.credential.account}")
def work_account(work: AccountWork, run_id: int, maintenance_wait_s: float,
                 browser_endpoint: str | None = None) -> tuple[dict, dict]:
    """One account's night as a task of the one-process night (see `work_lane`)."""
    return work_lane(work, run_id, maintenance_wait_s, browser_endpoint)


class NightTally:
    """What the night's lanes returned, gathered into the run's outcomes, counts, skipped entries and errors."""

    def __init__(self, run_id: int, skipped: dict[str, str], interrupted: list[int], edi: dict | None = None):
        self.run_id, self.skipped, self.interrupted = run_id, dict(skipped), interrupted
        self.edi = dict(edi or {})  # the inbox's files imported at the start (flows.edi_intake.inbox_summary)
        self.outcomes: list[dict] = []
        self.counts: Counter[str] = Counter()
        self.errors: list[dict] = []

    def add(self, payer_id: str, account: str, returned: tuple[dict, dict] | BaseException | str) -> None:
        """One lane's (outcome, counts), or the exception (or the name of the failure) that ended it."""
        if isinstance(returned, BaseException | str):
            # A bug, not a portal problem: what was persisted stays; the run is marked failed.
            error = returned if isinstance(returned, str) else type(returned).__name__
            get_run_logger().error("%s/%s crashed: %s", payer_id, account, error)
            self.errors.append({"payer_id": payer_id, "account": account, "error": error})
            return
        outcome, batch_counts = returned
        if outcome["skipped"]:  # another live run holds the account: reported with the skipped ones
            self.skipped[f"{outcome['payer_id']}/{outcome['account']}"] = outcome["skipped"]
            return
        self.outcomes.append(outcome)
        self.counts.update(batch_counts)
        if outcome["stopped_by"]:
            self.errors.append({"payer_id": outcome["payer_id"], "account": outcome["account"],
                                "error": outcome["stopped_by"]})

    def finish(self) -> dict:
        """Record the run's end and its summary artifact; the night's result."""
        with session_scope(get_engine()) as session:
            worklist = worklist_summary(session)
            # Files imported since the last night began (by hand or from the inbox) and the visits they saved.
            files, saved = visits_saved_since(session, previous_run_started(session, self.run_id))
            self.edi.update(edi_files_since_last_night=files, visits_saved=saved)
            finish_run(session, self.run_id,
                       counts=dict(self.counts) | {"skipped": self.skipped, "by_payer": _by_payer(self.outcomes),
                                                   "edi": self.edi},
                       errors=self.errors, status="failed" if self.errors else "completed")
        create_markdown_artifact(key="nightly-summary",
                                 markdown=_summary_markdown(self.outcomes, self.counts, self.skipped, worklist,
                                                            self.interrupted, self.edi),
                                 description="payerbot nightly run summary (no patient data)")
        return {"run_id": self.run_id, "accounts": self.outcomes, "counts": dict(self.counts),
                "skipped": self.skipped, "errors": self.errors, "interrupted": self.interrupted, "edi": self.edi}


def _summary_markdown(outcomes: list[dict], counts: Counter, skipped: dict[str, str], worklist: list,
                      interrupted: list[int], edi: dict | None = None) -> str:
    """The run's summary for operators: counts only, never patient data."""
    lines = ["# payerbot nightly run", "",
             "| payer | account | claims | letters | uploads | auths | logins | problems | stopped by |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for o in outcomes:
        stopped = o["stopped_by"] or ""
        if o["deferred"]:
            stopped = f"{stopped} (deferred: maintenance)".strip()
        lines.append(f"| {o['payer_id']} | {o['account']} | {o['claims_checked']} | {o['letters_downloaded']} | "
                     f"{o['uploads_done'] + o['uploads_reconciled']} | {o['authorizations']} | {o['logins']} | "
                     f"{o['problems']} | {stopped} |")
    for key, reason in sorted(skipped.items()):
        payer, _, account = key.partition("/")
        lines.append(f"| {payer} | {account or '-'} | 0 | 0 | 0 | 0 | 0 | 0 | skipped: {reason} |")
    if interrupted:
        lines += ["", f"Earlier runs marked interrupted (their process died): {', '.join(map(str, interrupted))}"]
    if edi:
        lines += ["", "## Clearinghouse files", "",
                  f"- inbox tonight: {edi.get('edi_files_imported', 0)} imported, "
                  f"{edi.get('edi_files_already_imported', 0)} already imported, "
                  f"{edi.get('edi_files_rejected', 0)} refused (see edi/rejected/)",
                  f"- files since the last night: {edi.get('edi_files_since_last_night', 0)}; "
                  f"portal visits they saved: {edi.get('visits_saved', 0)}"]
    lines += ["", "## Work queue changes", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in sorted(counts.items())]
    lines += ["", "## Open tasks by kind and owner", "", "| kind | owner | open |", "| --- | --- | ---: |"]
    lines += [f"| {kind} | {owner} | {count} |" for kind, owner, count in worklist]
    return "\n".join(lines) + "\n"


@flow(name="nightly", log_prints=False)
def nightly(payer_ids: list[str] | None = None, force: bool = False,
            maintenance_wait_minutes: float | None = None) -> dict:
    """Check claims, download letters, upload queued packets and pull authorizations for every payer."""
    private_umask()  # letters, screenshots and the database are patient data: owner-only from creation
    run_id, interrupted = open_run(payer_ids)
    edi = import_edi_inbox()  # before planning: a claim a file finalized needs no portal visit tonight
    works, skipped = plan_work(payer_ids, force)
    wait_minutes = load_rules().night.maintenance_wait_minutes if maintenance_wait_minutes is None \
        else maintenance_wait_minutes
    with shared_browser() if works else nullcontext() as endpoint:  # one Chromium for every lane of the night
        futures = [work_account.submit(work, run_id, wait_minutes * 60, endpoint) for work in works]
        wait(futures)
    tally = NightTally(run_id, skipped, interrupted, edi)
    for work, future in zip(works, futures, strict=True):
        tally.add(work.payer_id, work.credential.account, future.result(raise_on_failure=False))
    for key in [k for k in _payer_stops if k[0] == run_id]:
        del _payer_stops[key]
    return tally.finish()
