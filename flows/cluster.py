"""The night across Prefect workers: one flow run per portal account, per-payer session caps held server-side.

`cluster_night` plans the night once (as `nightly` does: one plan, so two accounts never get the same claim)
and starts one `account_night` flow run per account on the account deployment of a work pool; any number
of workers on any number of machines take them. A payer's cap on logged-in sessions is a Prefect global
concurrency limit (`payer-<id>`, slots = the manifest's max_sessions) that every worker's runs share; the
account lease in the work-queue database keeps two runs off one account.

Flow-run parameters are stored in Prefect's database and shown in its UI, so they carry identifiers only
(payer, account name, run id, claim numbers, packet ids); each account run reads its claims, packets and
credential from the work queue and the encrypted credential store of its own machine.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
from prefect.concurrency.sync import concurrency
from prefect.deployments import run_deployment
from sqlmodel import select

from bots.browser_server import shared_browser
from bots.credentials import CredentialStore
from bots.files import private_umask
from bots.registry import get_adapter
from bots.runner import AccountWork
from flows.nightly import NightTally, account_work, import_edi_inbox, open_run, plan_work, work_lane
from workqueue import accounts
from workqueue.claims import claim_query
from workqueue.config import load_rules
from workqueue.db import get_engine, session_scope
from workqueue.models import Claim, Document, RecordsPacket
from workqueue.planning import _packet_finding as packet_finding  # the planner's own packet -> finding

WORKER_ENV = "PAYERBOT_WORKER"
ACCOUNT_FLOW = "account-night"
ACCOUNT_DEPLOYMENT = "payerbot-account"
#: the table artifact each account run leaves for the dispatcher: counts and names only, never patient data
OUTCOME_ARTIFACT = "payerbot-account-outcome"
_FINAL_POLL_S = 2.0


def limit_name(payer_id: str) -> str:
    """The global concurrency limit that caps a payer's logged-in sessions across every worker."""
    return f"payer-{payer_id}"


def upsert_session_limits(payer_ids: list[str]) -> dict[str, int]:
    """Create or update each payer's global concurrency limit to its manifest's max_sessions; name -> slots."""
    slots = {limit_name(p): get_adapter(p).manifest.max_sessions for p in payer_ids}
    with get_client(sync_client=True) as client:
        for name, limit in slots.items():
            client.upsert_global_concurrency_limit_by_name(name, limit)
    return slots


def worker_name() -> str:
    """The worker this process runs under: PAYERBOT_WORKER, else host:pid."""
    return os.environ.get(WORKER_ENV) or accounts.this_holder()


def rebuild_work(payer_id: str, account: str, claim_numbers: list[str], upload_ids: list[str],
                 reconcile_ids: list[str], correspondence: bool, correspondence_since: date | None) -> AccountWork:
    """The account's share of the night, from the identifiers the dispatcher passed: rows and secrets read here."""
    credential = CredentialStore().get(payer_id, account)
    with session_scope(get_engine()) as session:
        claims = [claim_query(claim) for n in claim_numbers if (claim := session.get(Claim, n)) is not None]
        packets = {p.packet_id: p for p in session.exec(
            select(RecordsPacket).where(RecordsPacket.packet_id.in_(upload_ids + reconcile_ids)))}
        uploads = [packet_finding(session, packets[i]) for i in upload_ids if i in packets]
        reconcile = [packet_finding(session, packets[i]) for i in reconcile_ids if i in packets]
        known = set(session.exec(select(Document.portal_document_id).where(Document.payer_id == payer_id)).all())
        used = accounts.logins_tonight(session, payer_id, account)
    return account_work(payer_id, credential, claims=claims, uploads=uploads, reconcile=reconcile,
                        correspondence=correspondence, correspondence_since=correspondence_since,
                        known_document_ids=known, logins_used=used)


@flow(name=ACCOUNT_FLOW, flow_run_name="{payer_id}-{account}", log_prints=False)
def account_night(payer_id: str, account: str, run_id: int, claim_numbers: list[str],
                  upload_ids: list[str] | None = None, reconcile_ids: list[str] | None = None,
                  correspondence: bool = False, correspondence_since: date | None = None,
                  maintenance_wait_s: float = 0.0) -> dict:
    """One account's night on whichever worker took it: the same lane as `nightly`, capped server-side."""
    private_umask()
    work = rebuild_work(payer_id, account, claim_numbers, upload_ids or [], reconcile_ids or [], correspondence,
                        correspondence_since)
    # strict: a missing limit is an error, never an uncapped payer (the dispatcher creates them first).
    def slot() -> Any:
        return concurrency(limit_name(payer_id), occupy=1, strict=True)

    # A PortalChanged here stops this lane and, through the database, the payer's lanes on other workers.
    with shared_browser() as endpoint:  # the worker's Chromium (PAYERBOT_BROWSER_WS), else one for this run
        outcome, counts = work_lane(work, run_id, maintenance_wait_s, endpoint, session_slot=slot,
                                    stop_payer=threading.Event())
    outcome = {k: v for k, v in outcome.items() if k not in ("claims_done", "packets_done")}
    outcome["worker"] = worker_name()
    create_table_artifact(table=[{"outcome": json.dumps(outcome), "counts": json.dumps(counts)}],
                          key=OUTCOME_ARTIFACT, description=f"{payer_id}/{account} in bot run {run_id}")
    return {"outcome": outcome, "counts": counts}


def account_parameters(work: AccountWork, run_id: int, maintenance_wait_s: float) -> dict:
    """What the account run needs, by identifier only (Prefect stores parameters in its database)."""
    return {"payer_id": work.payer_id, "account": work.credential.account, "run_id": run_id,
            "claim_numbers": [c.claim_number for c in work.claims],
            "upload_ids": [p.packet_id for p in work.uploads], "reconcile_ids": [p.packet_id for p in work.reconcile],
            "correspondence": work.correspondence,
            "correspondence_since": work.correspondence_since.isoformat() if work.correspondence_since else None,
            "maintenance_wait_s": maintenance_wait_s}


def _wait_for(flow_run_ids: list[UUID], run_id: int, timeout_s: float | None) -> dict[UUID, str]:
    """Each run's final state name (or its state when the wait timed out); the bot run's heartbeat meanwhile."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    states: dict[UUID, str] = {}
    with get_client(sync_client=True) as client:
        pending = set(flow_run_ids)
        while pending:
            for flow_run_id in list(pending):
                state = client.read_flow_run(flow_run_id).state
                states[flow_run_id] = state.type.value if state else "PENDING"
                if state is not None and state.is_final():
                    pending.discard(flow_run_id)
            if not pending or (deadline is not None and time.monotonic() > deadline):
                break
            # The lanes' lease renewers beat too, but runs may wait in the queue before any lane starts.
            with session_scope(get_engine()) as session:
                accounts.heartbeat(session, run_id)
            time.sleep(_FINAL_POLL_S)
    return states


def _outcomes(flow_run_ids: list[UUID]) -> dict[UUID, tuple[dict, dict]]:
    """The (outcome, counts) each account run left as its artifact, by flow run."""
    found: dict[UUID, tuple[dict, dict]] = {}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids), type=ArtifactFilterType(any_=["table"])))
    for artifact in artifacts:
        if artifact.key != OUTCOME_ARTIFACT or artifact.flow_run_id is None:
            continue
        rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
        found[artifact.flow_run_id] = (json.loads(rows[0]["outcome"]), json.loads(rows[0]["counts"]))
    return found


@flow(name="cluster-night", log_prints=False)
def cluster_night(payer_ids: list[str] | None = None, force: bool = False,
                  maintenance_wait_minutes: float | None = None, deployment: str | None = None,
                  timeout_minutes: float | None = None) -> dict:
    """The night as one flow run per account on the work pool's workers; finished like `nightly`."""
    private_umask()
    logger = get_run_logger()
    run_id, interrupted = open_run(payer_ids)
    edi = import_edi_inbox()  # the clearinghouse's files first, as in `nightly`: they decide the portal visits
    works, skipped = plan_work(payer_ids, force)
    wait_minutes = load_rules().night.maintenance_wait_minutes if maintenance_wait_minutes is None \
        else maintenance_wait_minutes
    upsert_session_limits(sorted({w.payer_id for w in works}))
    name = deployment or f"{ACCOUNT_FLOW}/{ACCOUNT_DEPLOYMENT}"
    runs = [run_deployment(name=name, parameters=account_parameters(w, run_id, wait_minutes * 60), timeout=0,
                           flow_run_name=f"{w.payer_id}-{w.credential.account}", tags=["payerbot"], _sync=True)
            for w in works]
    logger.info("bot run %s: %d account runs started on %s", run_id, len(runs), name)
    # The lanes' own maintenance wait plus their work: no default limit (a night waits for free workers).
    states = _wait_for([r.id for r in runs], run_id, None if timeout_minutes is None else timeout_minutes * 60)
    returned = _outcomes([r.id for r in runs])
    tally = NightTally(run_id, skipped, interrupted, edi)
    workers: dict[str, str] = {}
    for work, run in zip(works, runs, strict=True):
        got = returned.get(run.id)
        if got is None or states.get(run.id) != "COMPLETED":
            # Crashed, failed, cancelled or never picked up: what it persisted stays; the run is marked failed.
            tally.add(work.payer_id, work.credential.account, f"flow run {states.get(run.id, 'UNKNOWN').lower()}")
            continue
        tally.add(work.payer_id, work.credential.account, got)
        workers[f"{work.payer_id}/{work.credential.account}"] = got[0]["worker"]
    return tally.finish() | {"workers": workers}
