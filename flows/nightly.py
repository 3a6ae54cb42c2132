"""The nightly flow: plan from the work queue, work each account in one browser session, persist per batch."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.futures import wait

from bots.credentials import CredentialStore
from bots.evidence import EvidenceStore, payerbot_home
from bots.findings import Finding
from bots.registry import get_adapter, registry
from bots.runner import AccountOutcome, AccountRunner, AccountWork, launched_browser
from workqueue.db import get_engine, init_db, session_scope
from workqueue.persist import persist_findings
from workqueue.planning import mark_uploading, plan_night
from workqueue.runs import finish_run, start_run
from workqueue.tasks import worklist_summary

# Findings from several accounts arrive at once; the work queue takes them one batch at a time.
_persist_lock = threading.Lock()
_session_limits: dict[str, threading.BoundedSemaphore] = {}
_limits_lock = threading.Lock()


def _session_limit(payer_id: str) -> threading.BoundedSemaphore:
    """Per-payer cap on concurrent logged-in sessions, sized by the manifest's max_sessions."""
    with _limits_lock:
        if payer_id not in _session_limits:
            _session_limits[payer_id] = threading.BoundedSemaphore(get_adapter(payer_id).manifest.max_sessions)
        return _session_limits[payer_id]


@task(cache_policy=NO_CACHE)
def open_run(payer_ids: list[str] | None) -> int:
    """Create the database if needed and record the start of a bot run."""
    engine = get_engine()
    init_db(engine)
    context = get_run_context()
    flow_run_id = str(context.flow_run.id) if getattr(context, "flow_run", None) else None
    with session_scope(engine) as session:
        return start_run(session, flow_run_id=flow_run_id, payer_ids=payer_ids or sorted(registry()))


@task(cache_policy=NO_CACHE)
def plan_work(payer_ids: list[str] | None, force: bool) -> tuple[list[AccountWork], dict[str, str]]:
    """Who does what tonight: claims due, uploads queued, letters and authorizations, per account."""
    store = CredentialStore()
    with session_scope(get_engine()) as session:
        plan = plan_night(session, payer_ids=payer_ids, force=force)
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
        manifest = get_adapter(payer_id).manifest
        claims = plan.claims.get(payer_id, [])
        for n, credential in enumerate(credentials):
            works.append(AccountWork(
                payer_id=payer_id, credential=credential,
                claims=claims[n::len(credentials)],  # split the payer's claims across its accounts
                uploads=plan.uploads.get(payer_id, []) if n == 0 else [],
                correspondence=n == 0, correspondence_since=plan.correspondence_since.get(payer_id),
                known_document_ids=plan.known_document_ids.get(payer_id, set()),
                authorizations=n == 0, batch_size=manifest.batch_size,
            ))
    return works, skipped


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


@task(cache_policy=NO_CACHE, task_run_name="work-{work.payer_id}-{work.credential.account}")
def work_account(work: AccountWork, run_id: int) -> tuple[dict, dict]:
    """One account's night in one browser context: network work here, storage in nested tasks."""
    logger = get_run_logger()
    sink = _FlowSink(run_id)
    home = payerbot_home()
    with _session_limit(work.payer_id), launched_browser() as browser:
        runner = AccountRunner(browser, get_adapter(work.payer_id), store=CredentialStore(),
                               evidence=EvidenceStore(), download_dir=home / "downloads" / f"run-{run_id}")
        outcome: AccountOutcome = runner.run(work, sink)
    logger.info("%s/%s: %d claims checked, %d letters, %d uploads, %d authorizations, %d problems%s",
                work.payer_id, work.credential.account, outcome.claims_checked, outcome.letters_downloaded,
                outcome.uploads_done, outcome.authorizations, outcome.problems,
                f", stopped by {outcome.stopped_by}" if outcome.stopped_by else "")
    return asdict(outcome), dict(sink.counts)


def _summary_markdown(outcomes: list[dict], counts: Counter, skipped: dict[str, str], worklist: list) -> str:
    """The run's summary for operators: counts only, never patient data."""
    lines = ["# payerbot nightly run", "",
             "| payer | account | claims | letters | uploads | auths | problems | stopped by |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for o in outcomes:
        lines.append(f"| {o['payer_id']} | {o['account']} | {o['claims_checked']} | {o['letters_downloaded']} | "
                     f"{o['uploads_done']} | {o['authorizations']} | {o['problems']} | {o['stopped_by'] or ''} |")
    for payer_id, reason in sorted(skipped.items()):
        lines.append(f"| {payer_id} | - | 0 | 0 | 0 | 0 | 0 | skipped: {reason} |")
    lines += ["", "## Work queue changes", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in sorted(counts.items())]
    lines += ["", "## Open tasks by kind and owner", "", "| kind | owner | open |", "| --- | --- | ---: |"]
    lines += [f"| {kind} | {owner} | {count} |" for kind, owner, count in worklist]
    return "\n".join(lines) + "\n"


@flow(name="nightly", log_prints=False)
def nightly(payer_ids: list[str] | None = None, force: bool = False) -> dict:
    """Check claims, download letters, upload queued packets and pull authorizations for every payer."""
    run_id = open_run(payer_ids)
    works, skipped = plan_work(payer_ids, force)
    futures = [work_account.submit(work, run_id) for work in works]
    wait(futures)
    outcomes: list[dict] = []
    counts: Counter[str] = Counter()
    errors: list[dict] = []
    for work, future in zip(works, futures, strict=True):
        returned = future.result(raise_on_failure=False)
        if isinstance(returned, BaseException):
            # A bug, not a portal problem: what was persisted stays; the run is marked failed.
            get_run_logger().error("%s/%s crashed: %s", work.payer_id, work.credential.account,
                                   type(returned).__name__)
            errors.append({"payer_id": work.payer_id, "account": work.credential.account,
                           "error": type(returned).__name__})
            continue
        outcome, batch_counts = returned
        outcomes.append(outcome)
        counts.update(batch_counts)
        if outcome["stopped_by"]:
            errors.append({"payer_id": outcome["payer_id"], "account": outcome["account"],
                           "error": outcome["stopped_by"]})
    with session_scope(get_engine()) as session:
        worklist = worklist_summary(session)
        finish_run(session, run_id, counts=dict(counts) | {"skipped": skipped}, errors=errors,
                   status="failed" if errors else "completed")
    create_markdown_artifact(key="nightly-summary", markdown=_summary_markdown(outcomes, counts, skipped, worklist),
                             description="payerbot nightly run summary (no patient data)")
    return {"run_id": run_id, "accounts": outcomes, "counts": dict(counts), "skipped": skipped,
            "errors": errors}

