"""Memory over a long night: one account's 2,000 claim checks in one browser session, sampled as it goes.

Run: `.venv/bin/python -m benchmarks.bench_memory [--portal meridian] [--checks 2000] [--claims 300]`.
Figures go to var/benchmarks/memory-<portal>.json (docs/performance.md quotes them with the machine).

The issue's target: one browser per worker plus at most 80 MiB per live session, flat within +-10% over
2,000 checks. Measured here, in one run:
- the browser alone (launched, no context), then the whole process tree's PSS (this Python process, the
  Playwright driver, Chromium and its renderers; shared pages counted once) after every batch of checks;
- the session's share: the browser's processes minus the browser alone, at the end (the runner parks the
  tab of a lane whose checks only fetch, so a fetched-check session holds no renderer);
- what each more live session costs: after the long session, LIVE_SESSIONS sessions of other accounts are
  signed in side by side (each checks a few claims as the claim phase does, its tab parked), and the
  browser's processes are sampled as each one joins; then each session's tab is opened again, blank, one
  by one (what a step that uses the tab holds), sampled again. With tabs, the first session's figure
  includes the renderer code every session shares (PSS counts a shared page once, split among its users);
  the slope from the first to the last is what one more live session adds;
- flatness: the mean of the last fifth of the samples against the mean of the samples between check 200
  and 400 (after the first pages have warmed the caches).
The portal's `claims` are cycled to reach `checks`; every answer is checked against the sandbox's oracle.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks._common import MemorySink, print_table, quiet_environment, ratio, write_results

quiet_environment()

from playwright.sync_api import sync_playwright  # noqa: E402

from benchmarks.bench_claim_status import pick_claims, sandbox_account  # noqa: E402
from benchmarks.bench_scale import _pss_kib, tree_of  # noqa: E402
from bots.browser import launch_options  # noqa: E402
from bots.credentials import Credential, CredentialStore  # noqa: E402
from bots.evidence import EvidenceStore  # noqa: E402
from bots.findings import ClaimStatusFinding  # noqa: E402
from bots.registry import get_adapter  # noqa: E402
from bots.runner import AccountRunner, AccountWork  # noqa: E402
from bots.session import account_session  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

SEED = 7
MIB = 1024
LIVE_SESSIONS = 4  # signed in side by side after the long session, one account each
LIVE_CHECKS = 20  # claims each of them checks before it is sampled


def _pss_mib(pids: list[int]) -> float:
    return round(sum(_pss_kib(p) for p in pids) / MIB, 1)


class SamplingSink(MemorySink):
    """Keeps the findings and samples the process tree's memory after every batch the runner hands over."""

    def __init__(self, browser_pids: callable) -> None:
        super().__init__()
        self.browser_pids = browser_pids
        self.samples: list[dict] = []
        self.checks = 0

    def persist(self, step: str, findings: list) -> None:
        super().persist(step, findings)
        self.checks += sum(1 for f in findings if isinstance(f, ClaimStatusFinding))
        self.samples.append({"checks": self.checks, "tree_mib": _pss_mib(tree_of(os.getpid())),
                             "browser_mib": _pss_mib(self.browser_pids()), "at": round(time.monotonic(), 1)})


def _browser_pids() -> list[int]:
    """Chromium's processes under this one (the driver's children), whatever their names."""
    return [p for p in tree_of(os.getpid())[1:] if "chrom" in Path(f"/proc/{p}/comm").read_text().lower()]


def _credential(server: SandboxServer, portal: str, account: dict, name: str) -> Credential:
    return Credential(payer_id=portal, account=name, username=account["username"], password=account["password"],
                      totp_seed=account["totp_seed"] or None, portal_url=server.portal_url(portal),
                      options={"one_time_code_url": f"{server.url}/_sandbox/{portal}/mailbox"})


def live_sessions(browser, server: SandboxServer, portal: str, claims: list, oracle: dict, scratch: Path,
                  browser_alone: float) -> tuple[list[dict], list[dict]]:
    """Browser memory as LIVE_SESSIONS signed-in sessions join one by one (each checked against the oracle).

    Two series: each session as the night's claim phase leaves it (fetched checks: the tab parked, see
    `PortalAdapter.park_tab`), then the same sessions each with a blank tab open again, one by one (what a
    step that uses the tab, a sign-in or a letter clicked in the tab, holds).
    """
    adapter_cls = get_adapter(portal)
    accounts = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[:LIVE_SESSIONS]
    store = CredentialStore(Path(tempfile.mkdtemp(dir=scratch)))
    parked, with_tab = [], []

    def sample(series: list[dict], n: int) -> None:
        time.sleep(1)  # a closed tab's renderer exits
        browser_mib = _pss_mib(_browser_pids())
        series.append({"sessions": n, "browser_mib": browser_mib,
                       "above_browser_mib": round(browser_mib - browser_alone, 1)})

    with ExitStack() as live:
        adapters = []
        for n, account in enumerate(accounts, start=1):
            adapter = live.enter_context(account_session(
                browser, adapter_cls, _credential(server, portal, account, f"live-{n}"), store=store,
                evidence=EvidenceStore(scratch / "evidence"), download_dir=scratch / "downloads"))
            adapters.append(adapter)
            if adapter.claims_without_tab():
                adapter.park_tab()  # as the runner does before each batch of fetched checks
            for claim in claims[:LIVE_CHECKS]:
                found = adapter.check_claim_status(claim)
                truth = oracle[claim.claim_number]
                if found.status_category != (None if truth["unmapped_wording"] else truth["status_category"]):
                    raise SystemExit(f"{portal}: a live session's answer differs from the oracle")
            adapter.fresh_tab()  # a tab that did draw the checks is swapped for a blank one, as a long night does
            sample(parked, n)
        for n, adapter in enumerate(adapters, start=1):
            adapter.page.goto("about:blank")  # a parked tab opens again, blank
            sample(with_tab, n)
    if len(parked) < 2:
        raise SystemExit(f"{portal}: the sandbox has fewer than 2 accounts to sign in side by side")
    return parked, with_tab


def _per_session(series: list[dict]) -> dict:
    """The first session's cost and the slope from the first to the last (what one more session adds)."""
    return {"first_mib": series[0]["above_browser_mib"],
            "each_more_mib": round((series[-1]["browser_mib"] - series[0]["browser_mib"]) / (len(series) - 1), 1),
            "most_per_session_mib": max(round(s["above_browser_mib"] / s["sessions"], 1) for s in series)}


def measure(portal: str, checks: int, distinct: int, scratch: Path) -> dict:
    """One account's `checks` claim checks in one session, sampled after every batch."""
    adapter_cls = get_adapter(portal)
    with SandboxServer(seed=SEED, claims=max(distinct * 2, 60), portals=[portal],
                       accounts_per_practice=LIVE_SESSIONS) as server, \
            sync_playwright() as playwright:
        claims, oracle = pick_claims(server, distinct, portal)
        work_claims = [claims[i % len(claims)] for i in range(checks)]
        browser = playwright.chromium.launch(**launch_options(playwright))
        time.sleep(1)
        browser_alone = _pss_mib(_browser_pids())
        tree_before = _pss_mib(tree_of(os.getpid()))
        credential = _credential(server, portal, sandbox_account(server, portal), "bench")
        sink = SamplingSink(_browser_pids)
        runner = AccountRunner(browser, adapter_cls, store=CredentialStore(Path(tempfile.mkdtemp(dir=scratch))),
                               evidence=EvidenceStore(scratch / "evidence"), download_dir=scratch / "downloads")
        started = time.perf_counter()
        outcome = runner.run(AccountWork(payer_id=portal, credential=credential, claims=work_claims,
                                         batch_size=50), sink)
        wall = time.perf_counter() - started
        joined, joined_with_tab = live_sessions(browser, server, portal, claims, oracle, scratch, browser_alone)
        browser.close()
    if outcome.stopped_by or outcome.claims_checked != checks:
        raise SystemExit(f"{portal}: stopped by {outcome.stopped_by}, {outcome.claims_checked}/{checks} checked")
    wrong = [f.claim_number for f in sink.findings if isinstance(f, ClaimStatusFinding)
             and f.status_category != (None if oracle[f.claim_number]["unmapped_wording"]
                                       else oracle[f.claim_number]["status_category"])]
    if wrong:
        raise SystemExit(f"{portal}: {len(wrong)} answers differ from the oracle, e.g. {wrong[:3]}")
    samples = sink.samples
    warm = [s["tree_mib"] for s in samples if 200 <= s["checks"] <= 400] or [samples[0]["tree_mib"]]
    last = [s["tree_mib"] for s in samples[-max(1, len(samples) // 5):]]
    growth = (sum(last) / len(last)) / (sum(warm) / len(warm)) - 1
    return {"portal": portal, "checks": checks, "distinct_claims": len(claims), "wall_seconds": round(wall, 1),
            "browser_alone_mib": browser_alone, "tree_before_session_mib": tree_before,
            "session_mib_at_end": round(samples[-1]["browser_mib"] - browser_alone, 1),
            "tree_warm_mib": round(sum(warm) / len(warm), 1), "tree_last_fifth_mib": round(sum(last) / len(last), 1),
            "tree_peak_mib": max(s["tree_mib"] for s in samples), "growth": round(growth, 3),
            "flat_within_10_percent": abs(growth) <= 0.10, "live_sessions": joined,
            "live_sessions_with_tab": joined_with_tab, "per_session": _per_session(joined),
            "per_session_with_tab": _per_session(joined_with_tab), "checks_per_minute": ratio(60 * checks, wall),
            "samples": samples}


def main() -> None:
    """Measure, print the table, write var/benchmarks/memory-<portal>.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portal", default="meridian")
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--claims", type=int, default=300, help="distinct claims, cycled to reach --checks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        result = measure(args.portal, args.checks, args.claims, Path(tmp))
    print_table(f"memory over {args.checks} checks ({args.portal}, one session)", [
        "browser alone MiB", "session at end MiB", "tree warm MiB", "tree last fifth MiB", "peak MiB", "growth",
        "flat (10%)"], [[result["browser_alone_mib"], result["session_mib_at_end"], result["tree_warm_mib"],
                        result["tree_last_fifth_mib"], result["tree_peak_mib"], result["growth"],
                        "yes" if result["flat_within_10_percent"] else "no"]])
    print_table(f"live sessions side by side ({args.portal}, {LIVE_CHECKS} checks each)",
                ["live sessions", "claim phase (tab parked) MiB above the browser", "each with a tab open MiB"],
                [[a["sessions"], a["above_browser_mib"], b["above_browser_mib"]]
                 for a, b in zip(result["live_sessions"], result["live_sessions_with_tab"], strict=True)])
    for label, key in (("claim phase (tab parked)", "per_session"), ("each with a tab open", "per_session_with_tab")):
        figures = result[key]
        print(f"{label}: first live session {figures['first_mib']} MiB above the browser, each more "
              f"{figures['each_more_mib']} MiB, at most {figures['most_per_session_mib']} MiB per live session")
    write_results(f"memory-{args.portal}", {"seed": SEED, "cpus": os.cpu_count(), **result})


if __name__ == "__main__":
    main()
