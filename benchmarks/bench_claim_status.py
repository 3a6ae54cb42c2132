"""Claim status checks: payerbot's AccountRunner vs a hand-written Playwright script vs the portal's floor.

Run: `.venv/bin/python -m benchmarks.bench_claim_status [--claims 60] [--repeats 3]`.
Everything runs in one process against the in-process sandbox (Meridian, seed 7) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import tempfile
from datetime import date
from decimal import Decimal
from html import unescape
from pathlib import Path

import httpx
import pyotp
from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks._common import MemorySink, median, print_table, quiet_environment, ratio, timed, write_results
from bots.browser import launch_options
from bots.credentials import Credential, CredentialStore
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery, ClaimStatusFinding
from bots.registry import get_adapter
from bots.runner import AccountRunner, AccountWork
from bots.session import account_session
from sandbox.server import SandboxServer

PAYER = "meridian"
SEED = 7
STATUS_CELL = re.compile(r'id="claim-status">([^<]*)<')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT_PAGE = re.compile(r'id="next-page" href="([^"]+)"')


def pick_claims(server: SandboxServer, count: int, payer: str = PAYER) -> tuple[list[ClaimQuery], dict[str, dict]]:
    """The first `count` inventory claims the portal has on file, with the search keys the inventory gives.

    About 40% of the inventory lacks the payer's claim number (ICN): those are searched by member + date
    of service, as the nightly planner would, so both contenders do exactly the same portal work.
    """
    inventory = httpx.get(f"{server.url}/_sandbox/{payer}/inventory.csv").text
    oracle = httpx.get(f"{server.url}/_sandbox/{payer}/oracle").json()["claims"]
    claims = []
    for row in csv.DictReader(io.StringIO(inventory)):
        if not oracle[row["claim_number"]]["on_file"]:
            continue
        claims.append(ClaimQuery(claim_number=row["claim_number"], payer_id=payer, member_id=row["member_id"],
                                 date_of_service=date.fromisoformat(row["date_of_service"]),
                                 payer_claim_number=row["payer_claim_number"] or None,
                                 billed_amount=Decimal(row["billed_amount"])))
        if len(claims) == count:
            break
    if len(claims) < count:
        raise SystemExit(f"the sandbox has only {len(claims)} claims on file")
    return claims, oracle


def sandbox_account(server: SandboxServer, payer: str = PAYER) -> dict:
    """The sandbox's synthetic demo account (username, password, TOTP seed)."""
    return httpx.get(f"{server.url}/_sandbox/{payer}/accounts").json()[0]


# -- baseline: the least a hand-written script can do -----------------------------------------------------
def script_login(page: Page, base: str, account: dict) -> None:
    """User id + password, then the TOTP code; no outcome checks, no retries, no saved session."""
    page.goto(base + "login", wait_until="domcontentloaded")
    page.fill("#userid", account["username"])
    page.fill("#password", account["password"])
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("#login-button")
    page.fill("#code", pyotp.TOTP(account["totp_seed"]).now())
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("#mfa-button")


def script_status(page: Page, base: str, claim: ClaimQuery) -> str:
    """Search form -> results -> our row's detail link -> the status cell's text."""
    page.goto(base + "claims/search", wait_until="domcontentloaded")
    if claim.payer_claim_number:
        page.fill("#icn", claim.payer_claim_number)
        button = "#icn-search-button"
    else:
        dos = f"{claim.date_of_service:%m/%d/%Y}"
        page.fill("#member_id", claim.member_id)
        page.fill("#dos_from", dos)
        page.fill("#dos_to", dos)
        button = "#member-search-button"
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click(button)
    # A member + date search can list several claims (10 a page): take the row with our account number.
    link = page.locator(f"tr.result-row:has(td.col-account:text-is('{claim.claim_number}')) td.col-icn a")
    while link.count() == 0:
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.click("a#next-page")
    with page.expect_navigation(wait_until="domcontentloaded"):
        link.click()
    return page.inner_text("#claim-status").strip()


def run_script(browser: Browser, base: str, account: dict, claims: list[ClaimQuery]) -> dict[str, str]:
    """The baseline: one context, one login, N claims; claim number -> status text."""
    context = browser.new_context()
    try:
        page = context.new_page()
        script_login(page, base, account)
        return {claim.claim_number: script_status(page, base, claim) for claim in claims}
    finally:
        context.close()


# -- payerbot: the AccountRunner with the real adapter, retries, outcome checks and full parsing -----------
def run_payerbot(browser: Browser, server: SandboxServer, account: dict, claims: list[ClaimQuery],
                 scratch: Path) -> dict[str, ClaimStatusFinding]:
    """The AccountRunner on the same claims; a fresh credential store so it logs in (with TOTP) like the script."""
    credential = Credential(payer_id=PAYER, account="bench", username=account["username"],
                            password=account["password"], totp_seed=account["totp_seed"],
                            portal_url=server.portal_url(PAYER))
    adapter_cls = get_adapter(PAYER)
    store = CredentialStore(Path(tempfile.mkdtemp(dir=scratch, prefix="secrets-")))
    runner = AccountRunner(browser, adapter_cls, store=store, evidence=EvidenceStore(scratch / "evidence"),
                           download_dir=scratch / "downloads")
    sink = MemorySink()
    outcome = runner.run(AccountWork(payer_id=PAYER, credential=credential, claims=claims,
                                     batch_size=adapter_cls.manifest.batch_size), sink)
    if outcome.stopped_by or outcome.problems or outcome.claims_checked != len(claims):
        raise SystemExit(f"payerbot run failed: stopped by {outcome.stopped_by}, {outcome.problems} problems, "
                         f"{outcome.claims_checked}/{len(claims)} claims")
    return {f.claim_number: f for f in sink.findings if isinstance(f, ClaimStatusFinding)}


# -- floors: the portal's own latency, no browser -------------------------------------------------------
def floor_detail_gets(client: httpx.Client, base: str, icns: list[str]) -> list[str]:
    """One plain GET of each claim's detail page with the logged-in cookies: the portal's latency floor."""
    statuses = []
    for icn in icns:
        response = client.get(f"{base}claims/{icn}")
        response.raise_for_status()
        statuses.append(unescape(STATUS_CELL.search(response.text).group(1)).strip())
    return statuses


def floor_http_flow(client: httpx.Client, base: str, claims: list[ClaimQuery]) -> dict[str, str]:
    """The same request sequence as the browser (form, search POST + redirect, results, detail), over httpx."""
    statuses = {}
    for claim in claims:
        token = CSRF.search(client.get(f"{base}claims/search").text).group(1)
        if claim.payer_claim_number:
            form = {"csrf_token": token, "search_type": "icn", "icn": claim.payer_claim_number}
        else:
            dos = f"{claim.date_of_service:%m/%d/%Y}"
            form = {"csrf_token": token, "search_type": "member", "member_id": claim.member_id,
                    "dos_from": dos, "dos_to": dos}
        page = client.post(f"{base}claims/search", data=form, follow_redirects=True).text
        row = re.compile(r'<td class="col-icn"><a href="([^"]+)">[^<]*</a></td>\s*'
                         rf'<td class="col-account">{re.escape(claim.claim_number)}</td>')
        while (found := row.search(page)) is None:
            page = client.get(httpx.URL(base).join(NEXT_PAGE.search(page).group(1))).text
        detail = client.get(httpx.URL(base).join(found.group(1))).text
        statuses[claim.claim_number] = unescape(STATUS_CELL.search(detail).group(1)).strip()
    return statuses


def logged_in_client(browser: Browser, base: str, account: dict) -> httpx.Client:
    """An httpx client carrying a live portal session (logged in once through the browser)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        script_login(page, base, account)
        cookies = {c["name"]: c["value"] for c in context.cookies()}
    finally:
        context.close()
    return httpx.Client(cookies=cookies, timeout=15)


def check_agreement(claims: list[ClaimQuery], oracle: dict[str, dict], script: dict[str, str],
                    bot: dict[str, ClaimStatusFinding], flow: dict[str, str], floor: list[str]) -> None:
    """Every contender read the same status; payerbot's category matches the sandbox oracle."""
    for n, claim in enumerate(claims):
        finding = bot[claim.claim_number]
        expected = oracle[claim.claim_number]
        words = {script[claim.claim_number], finding.raw_status, flow[claim.claim_number], floor[n]}
        if len(words) != 1:
            raise SystemExit(f"{claim.claim_number}: contenders disagree on the status wording")
        wanted = None if expected["unmapped_wording"] else expected["status_category"]
        if finding.status_category != wanted:
            raise SystemExit(f"{claim.claim_number}: payerbot says {finding.status_category}, oracle {wanted}")


def paired_pass(page: Page, adapter, client: httpx.Client, base: str, claims: list[ClaimQuery],
                icns: list[str]) -> tuple[dict[str, float], tuple]:
    """One pass over the claims, each contender timed on the same claim back to back (order alternates).

    The machine is shared (2 cores, other jobs): pairing per claim means a burst of load hits all
    contenders alike, which keeps the ratios steady even when the absolute times are not.
    """
    totals = dict.fromkeys(CONTENDERS, 0.0)
    script: dict[str, str] = {}
    bot: dict[str, ClaimStatusFinding] = {}
    flow: dict[str, str] = {}
    floor: list[str] = []
    for n, claim in enumerate(claims):
        steps = {
            "script": lambda c=claim: script.__setitem__(c.claim_number, script_status(page, base, c)),
            # The runner's own per-claim step: transient retries, a re-login on SessionExpired, full parsing.
            "payerbot": lambda c=claim: bot.__setitem__(c.claim_number, AccountRunner._check_one(adapter, c)),
            "floor_http_flow": lambda c=claim: flow.update(floor_http_flow(client, base, [c])),
            "floor_get": lambda i=icns[n]: floor.extend(floor_detail_gets(client, base, [i])),
        }
        for name in (CONTENDERS if n % 2 == 0 else CONTENDERS[::-1]):
            totals[name] += timed(steps[name])[0]
    return totals, (script, bot, flow, floor)


CONTENDERS = ("script", "payerbot", "floor_http_flow", "floor_get")


def main() -> None:
    """Measure, print the table, write var/benchmarks/claim_status.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-end-to-end", action="store_true",
                        help="skip the whole-run measurement (fresh login + N claims per contender)")
    args = parser.parse_args()
    quiet_environment()
    paired: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    whole: dict[str, list[float]] = {"script": [], "payerbot": []}
    with SandboxServer(seed=SEED, portals=[PAYER]) as server, sync_playwright() as playwright, \
            tempfile.TemporaryDirectory(prefix="bench-claims-") as tmp:
        base = server.portal_url(PAYER)
        claims, oracle = pick_claims(server, args.claims)
        icns = [oracle[c.claim_number]["payer_claim_number"] for c in claims]
        account = sandbox_account(server)
        credential = Credential(payer_id=PAYER, account="bench-paired", username=account["username"],
                                password=account["password"], totp_seed=account["totp_seed"],
                                portal_url=server.portal_url(PAYER))
        browser = playwright.chromium.launch(**launch_options(playwright))
        script_context = browser.new_context()
        try:
            client = logged_in_client(browser, base, account)
            page = script_context.new_page()
            script_login(page, base, account)
            with account_session(browser, get_adapter(PAYER), credential,
                                 store=CredentialStore(Path(tmp) / "secrets"),
                                 evidence=EvidenceStore(Path(tmp) / "evidence")) as adapter:
                paired_pass(page, adapter, client, base, claims[:4], icns[:4])  # unmeasured warm-up
                for _ in range(args.repeats):
                    totals, answers = paired_pass(page, adapter, client, base, claims, icns)
                    check_agreement(claims, oracle, *answers)
                    for name, seconds in totals.items():
                        paired[name].append(seconds)
            if not args.no_end_to_end:
                for _ in range(args.repeats):
                    whole["script"].append(timed(lambda: run_script(browser, base, account, claims))[0])
                    whole["payerbot"].append(
                        timed(lambda: run_payerbot(browser, server, account, claims, Path(tmp)))[0])
            client.close()
        finally:
            script_context.close()
            browser.close()
    n = len(claims)
    per_claim = {name: median(values) / n for name, values in paired.items()}
    # Ratios per repetition (the contenders ran interleaved), then their median.
    per_rep = {name: [ratio(p, other) for p, other in zip(paired["payerbot"], paired[name], strict=True)]
               for name in CONTENDERS}
    results = {
        "payer": PAYER, "seed": SEED, "claims": n, "repeats": args.repeats,
        "searched_by_icn": sum(1 for c in claims if c.payer_claim_number),
        "paired": {
            "what": "one logged-in session per contender; each claim timed back to back across contenders",
            "seconds_per_claim_median": {k: round(v, 5) for k, v in per_claim.items()},
            "pass_seconds": {k: [round(v, 3) for v in values] for k, values in paired.items()},
            "payerbot_over": {name: {"per_repeat": per_rep[name], "median": median(per_rep[name])}
                              for name in CONTENDERS if name != "payerbot"},
        },
        "ratios": {
            "payerbot_over_script": median(per_rep["script"]),
            "payerbot_over_floor_get": median(per_rep["floor_get"]),
            "payerbot_over_floor_http_flow": median(per_rep["floor_http_flow"]),
        },
    }
    print_table(f"claim status, {n} {PAYER} claims, paired per claim, median of {args.repeats} passes",
                ["contender", "s/claim", "payerbot / this"],
                [[name, per_claim[name], median(per_rep[name])] for name in CONTENDERS])
    if whole["script"]:
        whole_rep = [ratio(p, s) for p, s in zip(whole["payerbot"], whole["script"], strict=True)]
        results["end_to_end"] = {
            "what": "fresh context + login with TOTP + N claims; payerbot = AccountRunner.run",
            "run_seconds": {k: [round(v, 3) for v in values] for k, values in whole.items()},
            "seconds_per_claim_median": {k: round(median(v) / n, 5) for k, v in whole.items()},
            "payerbot_over_script": {"per_repeat": whole_rep, "median": median(whole_rep)},
        }
        results["ratios"]["end_to_end_payerbot_over_script"] = median(whole_rep)
        print_table("end to end (fresh login + all claims), AccountRunner.run vs the script",
                    ["contender", "s/claim", "payerbot / this"],
                    [[name, median(whole[name]) / n, median(whole_rep) if name == "script" else 1.0]
                     for name in ("payerbot", "script")])
    write_results("claim_status", results)


if __name__ == "__main__":
    main()
