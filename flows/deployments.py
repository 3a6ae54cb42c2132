"""The nightly schedule: a Prefect deployment of the `nightly` flow that a long-running process serves."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from flows.nightly import nightly

DEFAULT_CRON = "0 1 * * *"  # 01:00 every night, when portals are quiet and before billers start
DEPLOYMENT_NAME = "payerbot-nightly"


def nightly_deployment(cron: str = DEFAULT_CRON, payer_ids: list[str] | None = None) -> RunnerDeployment:
    """The nightly flow on a cron schedule (timezone: the server's, UTC by default)."""
    # `_sync=True`: Prefect otherwise returns a coroutine when it detects an event loop in this thread
    # (Playwright's sync API leaves one behind), and this function is synchronous.
    return nightly.to_deployment(
        name=DEPLOYMENT_NAME, cron=cron, parameters={"payer_ids": payer_ids, "force": False},
        description="Check claims, download letters, upload queued packets, pull authorizations.",
        tags=["payerbot"], _sync=True,
    )


def serve_nightly(cron: str = DEFAULT_CRON, payer_ids: list[str] | None = None) -> None:
    """Serve the schedule until interrupted (with PREFECT_API_URL set, against a Prefect server)."""
    from prefect import serve

    serve(nightly_deployment(cron, payer_ids))
