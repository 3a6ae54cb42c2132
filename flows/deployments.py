"""The nightly schedule and the cluster's deployments: Prefect deployments of the night's flows.

One machine: a long-running process serves the `nightly` cron deployment. Several machines: the
`account_night` deployment lives on a process work pool whose workers run one flow run per account, and
the served cron deployment is `cluster_night`, which hands the accounts to them.
"""

from __future__ import annotations

from uuid import UUID

from prefect.deployments.runner import EntrypointType, RunnerDeployment

from flows.nightly import nightly

DEFAULT_CRON = "0 1 * * *"  # 01:00 every night, when portals are quiet and before billers start
DEPLOYMENT_NAME = "payerbot-nightly"
CLUSTER_DEPLOYMENT_NAME = "payerbot-cluster-night"
DEFAULT_WORK_POOL = "payerbot"


def nightly_deployment(cron: str = DEFAULT_CRON, payer_ids: list[str] | None = None) -> RunnerDeployment:
    """The nightly flow on a cron schedule (timezone: the server's, UTC by default)."""
    # `_sync=True`: Prefect otherwise returns a coroutine when it detects an event loop in this thread
    # (Playwright's sync API leaves one behind), and this function is synchronous.
    return nightly.to_deployment(
        name=DEPLOYMENT_NAME, cron=cron, parameters={"payer_ids": payer_ids, "force": False},
        description="Check claims, download letters, upload queued packets, pull authorizations.",
        tags=["payerbot"], _sync=True,
    )


def ensure_process_pool(name: str = DEFAULT_WORK_POOL) -> None:
    """Create the process work pool if the server has none of that name (its workers run flows as subprocesses)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(
                name=name, type="process", base_job_template=ProcessWorker.get_default_base_job_template(),
                description="payerbot: one flow run per portal account"))
        except ObjectAlreadyExists:
            pass


def apply_account_deployment(work_pool: str = DEFAULT_WORK_POOL) -> UUID:
    """Register the account flow on the work pool; workers import it from the installed `flows` package."""
    from flows.cluster import ACCOUNT_DEPLOYMENT, account_night

    ensure_process_pool(work_pool)
    # A module entrypoint: every worker machine has payerbot installed, so no code storage is pulled.
    deployment = account_night.to_deployment(
        name=ACCOUNT_DEPLOYMENT, entrypoint_type=EntrypointType.MODULE_PATH, tags=["payerbot"],
        description="One portal account's night (started by cluster-night, one run per account).", _sync=True)
    return deployment.apply(work_pool_name=work_pool)


def cluster_night_deployment(cron: str = DEFAULT_CRON, payer_ids: list[str] | None = None) -> RunnerDeployment:
    """The cluster night's dispatcher on a cron schedule: it plans, then hands each account to the work pool."""
    from flows.cluster import cluster_night

    return cluster_night.to_deployment(
        name=CLUSTER_DEPLOYMENT_NAME, cron=cron, parameters={"payer_ids": payer_ids, "force": False},
        description="Plan the night, run one flow per account on the payerbot work pool, summarize.",
        tags=["payerbot"], _sync=True,
    )


def serve_nightly(cron: str = DEFAULT_CRON, payer_ids: list[str] | None = None, *, cluster: bool = False,
                  work_pool: str = DEFAULT_WORK_POOL) -> None:
    """Serve the schedule until interrupted (with PREFECT_API_URL set, against a Prefect server).

    `cluster`: the served flow is `cluster_night`, and the account deployment is registered on `work_pool`
    first (its workers do the portal work; this process only plans and waits).
    """
    from prefect import serve

    if cluster:
        apply_account_deployment(work_pool)
        serve(cluster_night_deployment(cron, payer_ids))
        return
    serve(nightly_deployment(cron, payer_ids))
