"""The nightly schedule is a Prefect deployment with the cron and parameters asked for."""

from flows.deployments import DEFAULT_CRON, nightly_deployment


def test_nightly_deployment_carries_the_cron_and_parameters() -> None:
    deployment = nightly_deployment("30 2 * * 1-5", ["meridian"])
    assert deployment.name == "payerbot-nightly"
    assert [s.schedule.cron for s in deployment.schedules] == ["30 2 * * 1-5"]
    assert deployment.parameters == {"payer_ids": ["meridian"], "force": False}
    assert [s.schedule.cron for s in nightly_deployment().schedules] == [DEFAULT_CRON]


def test_nightly_deployment_is_built_synchronously_even_inside_an_event_loop() -> None:
    import asyncio
    import threading

    async def build():
        return nightly_deployment("15 3 * * *")

    built: list = []
    # A thread of its own: the test runner's main thread may already run a loop (pytest-playwright's).
    worker = threading.Thread(target=lambda: built.append(asyncio.run(build())))
    worker.start()
    worker.join(timeout=60)
    assert [s.schedule.cron for s in built[0].schedules] == ["15 3 * * *"]
