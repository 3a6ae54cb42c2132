"""A night for one payer: the Prefect nightly flow vs the AccountRunner alone on the same planned work.

Run: `.venv/bin/python -m benchmarks.bench_night [--claims 60] [--repeats 3]`.
Each contender gets a fresh PAYERBOT_HOME (database, secrets, evidence) with the same imported inventory,
so all three plan and do exactly the same portal work; Prefect state persists under var/benchmarks/.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import (
    RESULTS_DIR,
    MemorySink,
    median,
    print_table,
    quiet_environment,
    ratio,
    timed,
    write_results,
)

PAYER = "meridian"
SEED = 7

# Prefect reads its settings at import: point it at a lasting folder (migrations run once, ~23 s) first.
quiet_environment()
os.environ.setdefault("PREFECT_HOME", str(RESULTS_DIR / "prefect-home"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # keep the table readable

from prefect import flow  # noqa: E402

from bots.credentials import CredentialStore  # noqa: E402
from bots.evidence import EvidenceStore, payerbot_home  # noqa: E402
from bots.findings import Finding  # noqa: E402
from bots.registry import get_adapter  # noqa: E402
from bots.runner import AccountOutcome, AccountRunner, AccountWork, launched_browser  # noqa: E402
from flows.demo import fetch_inventory, store_sandbox_credentials  # noqa: E402
from flows.nightly import nightly, plan_work  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from workqueue.db import get_engine, init_db, session_scope  # noqa: E402
from workqueue.inventory import import_claims  # noqa: E402
from workqueue.persist import persist_findings  # noqa: E402


@flow(name="bench-warmup")
def warmup() -> int:
    """An empty flow: starts Prefect's temporary local server so no contender pays for it."""
    return 1


class DirectSink(MemorySink):
    """Findings stored through `workqueue.persist` per batch, as the flow does, but without Prefect."""

    def __init__(self, run_id: int | None = None) -> None:
        super().__init__()
        self.run_id = run_id

    def persist(self, step: str, findings: list[Finding]) -> None:
        super().persist(step, findings)
        if findings:
            with session_scope(get_engine()) as session:
                persist_findings(session, findings, run_id=self.run_id)


def fresh_home(server: SandboxServer, scratch: Path, label: str) -> None:
    """A new PAYERBOT_HOME and secrets folder holding the sandbox inventory and encrypted demo credentials."""
    home = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{label}-"))
    os.environ["PAYERBOT_HOME"] = str(home / "home")
    os.environ["PAYERBOT_SECRETS_DIR"] = str(home / "secrets")
    os.environ.pop("PAYERBOT_DATABASE_URL", None)
    init_db(get_engine())
    inventory = fetch_inventory(server, payerbot_home() / "inventory.csv")
    with session_scope(get_engine()) as session:
        import_claims(inventory, session)
    store_sandbox_credentials(server, CredentialStore())


def planned_work() -> AccountWork:
    """The nightly planner's work for the payer's one account (the flow's own planning code, called directly)."""
    works, skipped = plan_work.fn([PAYER], False)
    if skipped or len(works) != 1:
        raise SystemExit(f"planning went wrong: skipped {skipped}, {len(works)} accounts")
    return works[0]


def run_runner(sink: MemorySink) -> AccountOutcome:
    """What the flow's `work_account` task does, without Prefect: a browser, the runner, the sink."""
    work = planned_work()
    with launched_browser() as browser:
        runner = AccountRunner(browser, get_adapter(PAYER), store=CredentialStore(), evidence=EvidenceStore(),
                               download_dir=payerbot_home() / "downloads")
        return runner.run(work, sink)


def contenders(expected_claims: list[int]) -> dict[str, Callable[[], dict[str, Any]]]:
    """Name -> a function doing one night's work and returning comparable counts."""

    def runner_only() -> dict[str, Any]:
        outcome = run_runner(MemorySink())
        expected_claims.append(len(planned_work().claims))
        return {"claims": outcome.claims_checked, "letters": outcome.letters_downloaded,
                "auths": outcome.authorizations, "stopped_by": outcome.stopped_by}

    def runner_and_persist() -> dict[str, Any]:
        outcome = run_runner(DirectSink())
        return {"claims": outcome.claims_checked, "letters": outcome.letters_downloaded,
                "auths": outcome.authorizations, "stopped_by": outcome.stopped_by}

    def nightly_flow() -> dict[str, Any]:
        [account] = nightly(payer_ids=[PAYER])["accounts"]
        return {"claims": account["claims_checked"], "letters": account["letters_downloaded"],
                "auths": account["authorizations"], "stopped_by": account["stopped_by"]}

    return {"runner_only": runner_only, "runner_and_persist": runner_and_persist, "nightly_flow": nightly_flow}


def main() -> None:
    """Measure, print the table, write var/benchmarks/night.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    startup_s, _ = timed(warmup)
    times: dict[str, list[float]] = {}
    counts: dict[str, dict] = {}
    planned: list[int] = []
    with SandboxServer(seed=SEED, claims=args.claims, portals=[PAYER]) as server, \
            tempfile.TemporaryDirectory(prefix="bench-night-") as tmp:
        runs = contenders(planned)
        fresh_home(server, Path(tmp), "warmup")
        runs["nightly_flow"]()  # unmeasured: first flow run's imports and task registration
        for _ in range(args.repeats):
            for name, run in runs.items():
                fresh_home(server, Path(tmp), name)
                elapsed, result = timed(run)
                times.setdefault(name, []).append(elapsed)
                if counts.setdefault(name, result) != result or result["stopped_by"]:
                    raise SystemExit(f"{name} did different work: {result} vs {counts[name]}")
    if len({str(c) for c in counts.values()}) != 1 or counts["runner_only"]["claims"] != planned[0]:
        raise SystemExit(f"contenders did different work: {counts}, planned {planned[0]} claims")
    med = {name: median(values) for name, values in times.items()}
    results = {
        "payer": PAYER, "seed": SEED, "world_claims": args.claims, "repeats": args.repeats,
        "work": counts["nightly_flow"],
        "prefect_first_flow_seconds": round(startup_s, 2),
        "run_seconds_median": {k: round(v, 3) for k, v in med.items()},
        "run_seconds": {k: [round(v, 3) for v in values] for k, values in times.items()},
        "ratios": {
            "nightly_over_runner_only": ratio(med["nightly_flow"], med["runner_only"]),
            "nightly_over_runner_and_persist": ratio(med["nightly_flow"], med["runner_and_persist"]),
            "runner_and_persist_over_runner_only": ratio(med["runner_and_persist"], med["runner_only"]),
        },
        # the contenders ran one after another within each repetition: the ratio of that repetition
        "nightly_over_runner_only_per_repeat": [ratio(f, r) for f, r in
                                                zip(times["nightly_flow"], times["runner_only"], strict=True)],
    }
    work = counts["nightly_flow"]
    print_table(f"one night, {PAYER}: {work['claims']} claims, {work['letters']} letters, {work['auths']} "
                f"authorizations; median of {args.repeats} runs", ["contender", "seconds", "this / runner_only"],
                [[name, med[name], ratio(med[name], med["runner_only"])] for name in med])
    print(f"\nPrefect's first flow in this process (temporary server start-up, not in the ratios): {startup_s:.1f} s")
    write_results("night", results)


if __name__ == "__main__":
    main()
