"""Nights at real portal latency: one account against its floor and a hand-written script, and a whole night.

Run: `.venv/bin/python -m benchmarks.bench_scale [--latencies 100,300] [--claims 40] [--night-claims 120]
[--no-night]`. Figures go to var/benchmarks/scale.json (scale_one_account.json with --no-night;
docs/performance.md quotes them with the machine).

For each latency (the sandbox's `latency_ms` fault, jitter 10%), side by side in one run:
- one account (Meridian): claim checks per minute of payerbot's AccountRunner, of a minimal hand-written
  Playwright script doing the same checks, and the latency floor: the delay the sandbox itself injected
  into the bot's requests (`/stats` latency_ms_total), i.e. what the checks cost with zero client time;
- a whole night through the Prefect nightly flow over every sandbox portal, two accounts each where the
  manifest allows (`max_sessions` >= 2): wall time, checks per minute, that rate scaled to 10,000 claims,
  peak memory (PSS) of the whole process tree, browser included, and the share of the night's CPU spent in
  the Python process (Prefect, database, parsing) rather than in the browser.
Every repetition is checked against the sandbox's oracle: a fast wrong answer fails the benchmark.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks._common import RESULTS_DIR, print_table, quiet_environment, ratio, write_results

quiet_environment()
os.environ.setdefault("PREFECT_HOME", str(RESULTS_DIR / "prefect-home"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlmodel import select  # noqa: E402

from benchmarks.bench_claim_status import pick_claims, run_payerbot, run_script, sandbox_account  # noqa: E402
from bots.browser import launch_options  # noqa: E402
from bots.credentials import Credential, CredentialStore  # noqa: E402
from bots.evidence import payerbot_home  # noqa: E402
from bots.registry import get_adapter, registry  # noqa: E402
from flows.demo import fetch_inventory  # noqa: E402
from flows.nightly import nightly  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from workqueue.db import get_engine, init_db, session_scope  # noqa: E402
from workqueue.inventory import import_claims  # noqa: E402
from workqueue.models import Claim  # noqa: E402

SEED = 7
TARGET_CLAIMS = 10_000


# -- process-tree memory (Linux /proc, proportional set size so shared pages count once) ------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_of(root: int) -> list[int]:
    """The process and all its descendants."""
    tree, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += tree.get(pid, [])
    return out


class TreeSampler:
    """Samples the PSS of this process tree every 0.5 s (peak), and each descendant's CPU time (last seen)."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self.child_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            pids = tree_of(os.getpid())
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in pids))
            for pid in pids[1:]:
                self.child_cpu[pid] = max(self.child_cpu.get(pid, 0.0), _cpu_s(pid))

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


# -- one account ----------------------------------------------------------------------------------------
def _stats(server: SandboxServer, portal: str) -> dict:
    return httpx.get(f"{server.url}/_sandbox/{portal}/stats").json()


def _reset(server: SandboxServer, portal: str) -> None:
    httpx.post(f"{server.url}/_sandbox/{portal}/reset_stats").raise_for_status()


def one_account(latency_ms: int, claims_wanted: int, scratch: Path) -> dict:
    """Checks per minute: payerbot vs the hand-written script vs the latency floor, on the same claims."""
    faults = f"latency_ms={latency_ms},jitter_ms={latency_ms // 10}"
    with SandboxServer(seed=SEED, claims=max(60, claims_wanted * 2), portals=["meridian"], faults=faults) as server, \
            sync_playwright() as playwright:
        claims, oracle = pick_claims(server, claims_wanted)
        account = sandbox_account(server)
        browser = playwright.chromium.launch(**launch_options(playwright))
        try:
            _reset(server, "meridian")
            started = time.perf_counter()
            script = run_script(browser, server.portal_url("meridian"), account, claims)
            script_s = time.perf_counter() - started
            script_floor_s = _stats(server, "meridian")["latency_ms_total"] / 1000
            _reset(server, "meridian")
            started = time.perf_counter()
            bot = run_payerbot(browser, server, account, claims, scratch)
            bot_s = time.perf_counter() - started
            stats = _stats(server, "meridian")
        finally:
            browser.close()
    for claim in claims:
        expected = oracle[claim.claim_number]
        wanted = None if expected["unmapped_wording"] else expected["status_category"]
        if bot[claim.claim_number].status_category != wanted or script[claim.claim_number] != \
                bot[claim.claim_number].raw_status:
            raise SystemExit(f"{claim.claim_number}: a wrong answer at {latency_ms} ms (oracle {wanted})")
    floor_s = stats["latency_ms_total"] / 1000
    per_min = 60 * len(claims)
    return {"latency_ms": latency_ms, "claims": len(claims), "bot_seconds": round(bot_s, 2),
            "script_seconds": round(script_s, 2), "floor_seconds": round(floor_s, 2),
            "bot_requests": stats["requests"], "bot_checks_per_minute": round(per_min / bot_s, 1),
            "script_checks_per_minute": round(per_min / script_s, 1),
            "floor_checks_per_minute": round(per_min / floor_s, 1) if floor_s else None,
            "script_floor_seconds": round(script_floor_s, 2),
            "bot_share_of_floor": ratio(floor_s, bot_s), "bot_over_script": ratio(bot_s, script_s)}


# -- a whole night ----------------------------------------------------------------------------------------
def _accounts_per_portal() -> dict[str, int]:
    return {p: 2 if get_adapter(p).manifest.max_sessions >= 2 else 1 for p in registry()}


def _fresh_home(server: SandboxServer, scratch: Path, label: str, accounts: dict[str, int]) -> int:
    """A new PAYERBOT_HOME with the sandbox inventory and each portal's accounts stored; claims imported."""
    home = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{label}-"))
    os.environ["PAYERBOT_HOME"] = str(home / "home")
    os.environ["PAYERBOT_SECRETS_DIR"] = str(home / "secrets")
    os.environ.pop("PAYERBOT_DATABASE_URL", None)
    init_db(get_engine())
    with session_scope(get_engine()) as session:
        import_claims(fetch_inventory(server, payerbot_home() / "inventory.csv"), session)
        count = len(session.exec(select(Claim)).all())
    store = CredentialStore()
    for portal, wanted in accounts.items():
        logins = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[:wanted]
        for n, login in enumerate(logins):
            store.put(Credential(payer_id=portal, account=f"acct{n + 1}", username=login["username"],
                                 password=login["password"], totp_seed=login["totp_seed"],
                                 portal_url=server.portal_url(portal),
                                 options={"one_time_code_url": f"{server.url}/_sandbox/{portal}/mailbox"}))
    return count


def _oracle_mismatches(server: SandboxServer) -> list[str]:
    """Claims whose stored category differs from the oracle's (claims the portal has on file)."""
    wrong = []
    with session_scope(get_engine()) as session:
        stored = {c.claim_number: c for c in session.exec(select(Claim)).all()}
    for portal in registry():
        for number, truth in httpx.get(f"{server.url}/_sandbox/{portal}/oracle").json()["claims"].items():
            if not truth.get("on_file"):
                continue
            wanted = None if truth.get("unmapped_wording") else truth["status_category"]
            row = stored.get(number)
            if row is None or row.status_category != wanted:
                wrong.append(number)
    return wrong


def whole_night(latency_ms: int, claims_per_portal: int, scratch: Path) -> dict:
    """The nightly flow over every sandbox portal at this latency; correct against the oracle or it fails."""
    accounts = _accounts_per_portal()
    faults = f"latency_ms={latency_ms},jitter_ms={latency_ms // 10}"
    with SandboxServer(seed=SEED, claims=claims_per_portal, faults=faults,
                       accounts_per_practice=max(accounts.values())) as server:
        imported = _fresh_home(server, scratch, f"night-{latency_ms}", accounts)
        cpu_before = os.times()
        with TreeSampler() as sampler:
            started, started_epoch = time.perf_counter(), time.time()
            result = nightly()
            wall_s, ended_epoch = time.perf_counter() - started, time.time()
        cpu_after = os.times()
        if result["errors"] or result["skipped"]:
            raise SystemExit(f"the night at {latency_ms} ms did not go cleanly: {result['errors']} {result['skipped']}")
        wrong = _oracle_mismatches(server)
        if wrong:
            raise SystemExit(f"the night at {latency_ms} ms disagrees with the oracle on {len(wrong)} claims")
        twice = sum(_stats(server, p)["claims_looked_up_twice"] for p in registry())
    checked = sum(a["claims_checked"] for a in result["accounts"])
    python_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    browser_cpu = sum(sampler.child_cpu.values())
    per_minute = 60 * checked / wall_s
    # Where the night's time went: each account lane's span (browser context open to close), and what came
    # before the first lane and after the last (Prefect's flow and task start, planning, the summary).
    lanes = sorted(({"lane": f"{a['payer_id']}/{a['account']}", "claims": a["claims_checked"],
                     "letters": a["letters_downloaded"], "authorizations": a["authorizations"],
                     "seconds": round(a["finished_at"] - a["started_at"], 1)} for a in result["accounts"]),
                   key=lambda lane: -lane["seconds"])
    before_lanes = min(a["started_at"] for a in result["accounts"]) - started_epoch
    after_lanes = ended_epoch - max(a["finished_at"] for a in result["accounts"])
    return {"latency_ms": latency_ms, "accounts": accounts, "claims_imported": imported,
            "claims_checked": checked, "claims_looked_up_twice": twice, "wall_seconds": round(wall_s, 1),
            "checks_per_minute": round(per_minute, 1),
            "minutes_for_10000_claims": round(TARGET_CLAIMS / per_minute, 1),
            "peak_tree_pss_mib": round(sampler.peak_kib / 1024),
            "python_cpu_seconds": round(python_cpu, 1), "browser_cpu_seconds": round(browser_cpu, 1),
            "python_share_of_cpu": ratio(python_cpu, python_cpu + browser_cpu), "lanes": lanes,
            "seconds_before_the_first_lane": round(before_lanes, 1),
            "seconds_after_the_last_lane": round(after_lanes, 1)}


def main() -> None:
    """Measure at each latency, print the tables, write var/benchmarks/scale.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latencies", default="100,300", help="portal latencies in ms, comma separated")
    parser.add_argument("--claims", type=int, default=40, help="claims checked by the one-account contenders")
    parser.add_argument("--night-claims", type=int, default=120, help="claims per portal in the whole night")
    parser.add_argument("--no-night", action="store_true", help="only the one-account comparison (minutes faster)")
    args = parser.parse_args()
    latencies = [int(x) for x in args.latencies.split(",")]
    singles, nights = [], []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for latency in latencies:
            singles.append(one_account(latency, args.claims, Path(tmp)))
            if not args.no_night:
                nights.append(whole_night(latency, args.night_claims, Path(tmp)))
    print_table("one account (meridian): checks per minute", [
        "latency ms", "claims", "payerbot", "script", "floor", "payerbot / floor rate", "payerbot time / script"],
        [[s["latency_ms"], s["claims"], s["bot_checks_per_minute"], s["script_checks_per_minute"],
          s["floor_checks_per_minute"], s["bot_share_of_floor"], s["bot_over_script"]] for s in singles])
    if not nights:
        write_results("scale_one_account", {"seed": SEED, "cpus": os.cpu_count(), "one_account": singles})
        return
    print_table("whole night, every sandbox portal", [
        "latency ms", "claims checked", "wall s", "checks/min", "min for 10k", "peak MiB", "python CPU share",
        "checked twice"],
        [[n["latency_ms"], n["claims_checked"], n["wall_seconds"], n["checks_per_minute"],
          n["minutes_for_10000_claims"], n["peak_tree_pss_mib"], n["python_share_of_cpu"],
          n["claims_looked_up_twice"]] for n in nights])
    for n in nights:
        print_table(f"the night's lanes at {n['latency_ms']} ms (before the first lane "
                    f"{n['seconds_before_the_first_lane']} s, after the last {n['seconds_after_the_last_lane']} s)",
                    ["lane", "seconds", "claims", "letters", "authorizations"],
                    [[lane["lane"], lane["seconds"], lane["claims"], lane["letters"], lane["authorizations"]]
                     for lane in n["lanes"]])
    write_results("scale", {"seed": SEED, "cpus": os.cpu_count(), "one_account": singles, "night": nights})


if __name__ == "__main__":
    main()
