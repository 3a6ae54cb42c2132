"""Record a scrubbed HAR of claim-status checks on a portal, and the replay cases a perfect bot must pass.

    .venv/bin/python scripts/record_har.py meridian --sandbox --seed 7 --claim C110030 --claim C110014
    .venv/bin/python scripts/record_har.py acme --account main --inventory claims.csv \\
        --expect expected.toml --replace "DOE, JANE=PATIENT, TEST" --claim C100123

The login happens in a context of its own; recording starts in a fresh context that only carries the
logged-in storage_state, so no password or one-time code is ever recorded. The raw HAR stays in a
temporary folder; what lands in `payers/<id>/cases/` is scrubbed (bots.har.scrub_har) and checked for
leaks. Expectations come from the sandbox oracle, or for a real portal from a file the operator wrote
by reading the portal pages: never from the adapter's own output.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import tomllib
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, sync_playwright

from bots.adapter import OneTimeCodeProvider, PortalAdapter, PortalSession
from bots.browser import launch_options
from bots.credentials import Credential, CredentialStore
from bots.errors import PortalError
from bots.evidence import EvidenceStore
from bots.findings import ClaimQuery
from bots.har import make_replayable, scrub_har
from bots.one_time_codes import HttpMailboxCodes, provider_for
from bots.registry import get_adapter
from bots.session import ensure_logged_in, portal_base_url

#: keys of an `expect` table; a key left out means the portal shows none (the replay checks None)
EXPECT_KEYS = ("status_category", "reference_number", "paid", "allowed", "patient_responsibility",
               "payer_claim_number", "carc_codes", "rarc_codes")
CASES_FILE = "har_cases.toml"


class RecordingError(Exception):
    """The recording cannot be made safely (login not carried over, a leak, a missing expectation)."""


# -- inputs ---------------------------------------------------------------------------------------------
def read_inventory(text: str) -> dict[str, dict[str, str]]:
    """Claims inventory CSV (the sandbox's inventory.csv columns) keyed by the practice's claim number."""
    return {row["claim_number"]: row for row in csv.DictReader(text.splitlines())}


def query_for(row: dict[str, str], payer_id: str) -> ClaimQuery:
    """The search keys a biller has for one claim."""
    return ClaimQuery(claim_number=row["claim_number"], payer_id=payer_id, member_id=row["member_id"],
                      date_of_service=date.fromisoformat(row["date_of_service"]),
                      payer_claim_number=row.get("payer_claim_number") or None)


def expect_from_oracle(claim: dict) -> dict:
    """What a perfect bot finds for one claim, from the sandbox oracle (canonical terms, None left out)."""
    expect = {
        "status_category": None if claim["unmapped_wording"] else claim["status_category"],
        "reference_number": claim["reference_number"],
        "paid": claim["paid"], "allowed": claim["allowed"],
        "patient_responsibility": claim["patient_responsibility"],
        "payer_claim_number": claim["payer_claim_number"],
        "carc_codes": claim["carc_codes"], "rarc_codes": claim["rarc_codes"],
    }
    return {key: value for key, value in expect.items() if value is not None}


def sandbox_replacements(rows: list[dict[str, str]], member_prefix: str) -> dict[str, str]:
    """Synthetic stand-ins for the recorded patients (the sandbox's data is synthetic already; a real
    recording scrubs the same way): member ids become `<prefix>0000000NN`, which no real id starts with."""
    replacements: dict[str, str] = {}
    members: list[str] = []
    for row in rows:
        if row["member_id"] in members:
            continue
        members.append(row["member_id"])
        n = len(members)
        replacements[row["member_id"]] = f"{member_prefix}{n:09d}"
        first, last = row["patient_first_name"], row["patient_last_name"]
        stand_in_first, stand_in_last = f"Patient{n:02d}", "Testperson"
        stand_in = f"{stand_in_last.upper()}, {stand_in_first.upper()}"
        replacements[f"{last.upper()}, {first.upper()}"] = stand_in
        replacements[f"{first} {last}"] = f"{stand_in_first} {stand_in_last}"
    return replacements


# -- browser work ---------------------------------------------------------------------------------------
def _adapter(adapter_cls: type[PortalAdapter], context, credential: Credential, base_url: str,
             codes: OneTimeCodeProvider | None, work: Path) -> PortalAdapter:
    session = PortalSession(page=context.new_page(), context=context, credential=credential,
                            base_url=base_url,
                            evidence=EvidenceStore(work / "evidence"), one_time_codes=codes,
                            download_dir=work / "downloads")
    return adapter_cls(session)


def logged_in_state(browser: Browser, adapter_cls: type[PortalAdapter], credential: Credential, *,
                    base_url: str, codes: OneTimeCodeProvider | None, saved: dict | None, work: Path) -> dict:
    """Log in (at most once) in a context that is never recorded; return its storage_state."""
    context = browser.new_context(storage_state=saved, accept_downloads=True)
    try:
        ensure_logged_in(_adapter(adapter_cls, context, credential, base_url, codes, work))
        return context.storage_state()
    finally:
        context.close()


def record(browser: Browser, adapter_cls: type[PortalAdapter], credential: Credential,
           queries: list[ClaimQuery], *, base_url: str, state: dict, har_path: Path, work: Path) -> None:
    """Check each claim in a fresh context carrying the login, recording every request into `har_path`."""
    context = browser.new_context(storage_state=state, accept_downloads=True, record_har_path=str(har_path),
                                  record_har_content="embed", service_workers="block")
    try:
        adapter = _adapter(adapter_cls, context, credential, base_url, None, work)
        # The saved login must carry over: logging in here would record the password and the code.
        if not adapter.is_logged_in():
            raise RecordingError("the portal did not accept the saved login in the recording context")
        for query in queries:
            try:
                finding = adapter.check_claim_status(query)
            except PortalError as error:
                raise RecordingError(f"{query.claim_number}: {error}") from error
            print(f"  {query.claim_number}: {finding.raw_status!r}", file=sys.stderr)
    finally:
        context.close()  # writes the HAR


def secrets_of(credential: Credential, state: dict) -> list[str]:
    """Values that must never be in a committed HAR: password, TOTP seed, every cookie value."""
    values = [credential.password.get_secret_value()]
    if credential.totp_seed:
        values.append(credential.totp_seed.get_secret_value())
    values += [cookie["value"] for cookie in state.get("cookies", []) if len(cookie["value"]) >= 6]
    return values


def leaks(har_path: Path, values: list[str]) -> int:
    """How many of the given values still appear in the HAR text (checked case-insensitively)."""
    text = har_path.read_text(encoding="utf-8").casefold()
    return sum(1 for value in values if value and value.casefold() in text)


# -- the cases file -------------------------------------------------------------------------------------
def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_cases(path: Path, *, har: str, base_url: str, origin: str, cases: list[dict],
                sandbox_seed: int | None = None) -> None:
    """Write the HAR's `[[claim_status]]` cases (search keys and what a perfect bot must find)."""
    lines = [
        "# Conformance cases replayed offline from a recorded HAR (tests/conformance/test_har_replay.py).",
        f"# Written by scripts/record_har.py from {origin} on {datetime.now(UTC):%Y-%m-%d}; the HAR is",
        "# scrubbed (no cookies, no login, synthetic patients). In `expect`, a key left out means the portal",
        "# shows none: the replay checks it is None. Re-recording rewrites this file and the HAR together.",
        'source = "har"',
        f"har = {_toml(har)}",
        f"base_url = {_toml(base_url)}",
    ]
    if sandbox_seed is not None:  # lets the replay test check that no sandbox patient survived scrubbing
        lines.append(f"sandbox_seed = {sandbox_seed}")
    for case in cases:
        lines += ["", "[[claim_status]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in case.items()
                  if key != "expect" and value is not None]
        lines += ["[claim_status.expect]"]
        if "status_category" not in case["expect"]:
            lines += ["# no status_category: the portal's wording is not in the status map (kept raw)"]
        lines += [f"{key} = {_toml(case['expect'][key])}" for key in EXPECT_KEYS if key in case["expect"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _swap(value: str, replacements: dict[str, str]) -> str:
    for real, fake in sorted(replacements.items(), key=lambda pair: len(pair[0]), reverse=True):
        value = value.replace(real, fake)
    return value


# -- main -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Parse the command line, record, scrub, check for leaks, write the HAR and its cases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("payer_id")
    parser.add_argument("--claim", action="append", required=True, help="practice claim number (repeat)")
    parser.add_argument("--sandbox", action="store_true",
                        help="record the payer's sandbox portal, started in-process")
    parser.add_argument("--seed", type=int, default=7, help="sandbox world seed")
    parser.add_argument("--account", help="stored account to log in with (real portal; default: the first)")
    parser.add_argument("--inventory", type=Path,
                        help="claims inventory CSV with the search keys (real portal)")
    parser.add_argument("--expect", type=Path,
                        help="TOML of [claims.<claim_number>] expectations the operator read off the portal")
    parser.add_argument("--replace", action="append", default=[], metavar="REAL=SYNTHETIC",
                        help="a real value to scrub and its stand-in (names, member ids, addresses; repeat)")
    parser.add_argument("--har-name", default="claims.har", help="file name under payers/<id>/cases/")
    args = parser.parse_args(argv)

    adapter_cls = get_adapter(args.payer_id)
    cases_dir = adapter_cls.package_dir / "cases"
    replacements = dict(item.split("=", 1) for item in args.replace)
    with ExitStack() as stack, sync_playwright() as playwright:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="record-har-")))
        if args.sandbox:
            from sandbox.server import SandboxServer
            from sandbox.world import PROFILES

            portal = adapter_cls.manifest.sandbox_portal
            if not portal:
                parser.error(f"{args.payer_id} has no sandbox portal")
            server = stack.enter_context(SandboxServer(seed=args.seed, portals=[portal]))
            account = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[0]
            credential = Credential(payer_id=args.payer_id, account="sandbox", username=account["username"],
                                    password=account["password"], totp_seed=account["totp_seed"],
                                    portal_url=server.portal_url(portal))
            codes: OneTimeCodeProvider | None = HttpMailboxCodes(f"{server.url}/_sandbox/{portal}/mailbox")
            inventory = read_inventory(httpx.get(f"{server.url}/_sandbox/{portal}/inventory.csv").text)
            oracle = httpx.get(f"{server.url}/_sandbox/{portal}/oracle").json()["claims"]
            missing = [c for c in args.claim if c not in inventory]
            if missing:
                parser.error(f"not in the sandbox inventory: {missing}")
            expected = {c: expect_from_oracle(oracle[c]) for c in args.claim}
            replacements = {**sandbox_replacements([inventory[c] for c in args.claim],
                                                   PROFILES[portal].member_prefix), **replacements}
            # The server's port changes each run: recorded URLs get a host that never resolves instead.
            replacements[urlsplit(server.url).netloc] = f"{portal}.sandbox.invalid"
            replacements[account["username"]] = "provider.user"
            store, saved, origin = None, None, f"the {portal} sandbox portal (seed {args.seed})"
        else:
            if not (args.inventory and args.expect):
                parser.error("a real portal needs --inventory (search keys) and --expect (the answers)")
            store = CredentialStore()
            accounts = [c for c in store.for_payer(args.payer_id) if args.account in (None, c.account)]
            if not accounts:
                parser.error(f"no stored credential for {args.payer_id}")
            credential, codes, saved = accounts[0], provider_for(accounts[0]), store.load_session(accounts[0])
            inventory = read_inventory(args.inventory.read_text(encoding="utf-8"))
            with args.expect.open("rb") as handle:
                expected = tomllib.load(handle).get("claims", {})
            missing = [c for c in args.claim if c not in inventory or c not in expected]
            if missing:
                parser.error(f"no inventory row or no expectation for {missing}")
            unknown = {key for c in args.claim for key in expected[c]} - set(EXPECT_KEYS)
            if unknown:
                parser.error(f"unknown keys in {args.expect}: {sorted(unknown)} (known: {list(EXPECT_KEYS)})")
            replacements.setdefault(credential.username, "provider.user")
            origin = f"{adapter_cls.manifest.name}'s portal"
        base_url = portal_base_url(adapter_cls, credential)
        queries = [query_for(inventory[c], args.payer_id) for c in args.claim]

        browser = playwright.chromium.launch(**launch_options(playwright))
        state = logged_in_state(browser, adapter_cls, credential, base_url=base_url, codes=codes, saved=saved,
                                work=work)
        if store is not None:
            store.save_session(credential, state)
        raw = work / "raw.har"
        print(f"recording {len(queries)} claim(s) on {origin}", file=sys.stderr)
        record(browser, adapter_cls, credential, queries, base_url=base_url, state=state, har_path=raw,
               work=work)
        browser.close()

        cases_dir.mkdir(parents=True, exist_ok=True)
        scrubbed = work / "scrubbed.har"
        scrub_har(raw, scrubbed, replacements)
        dropped, pinned = make_replayable(scrubbed)
        found = leaks(scrubbed, secrets_of(credential, state) + list(replacements))
        if found:
            raise RecordingError(f"{found} secret or real value(s) survived scrubbing; nothing was written")
        har_file = cases_dir / args.har_name
        har_file.write_bytes(scrubbed.read_bytes())

    cases = [{"claim_number": q.claim_number, "member_id": _swap(q.member_id, replacements),
              "date_of_service": q.date_of_service, "payer_claim_number": q.payer_claim_number,
              "expect": expected[q.claim_number]} for q in queries]
    write_cases(cases_dir / CASES_FILE, har=f"cases/{args.har_name}", base_url=_swap(base_url, replacements),
                origin=origin, cases=cases, sandbox_seed=args.seed if args.sandbox else None)
    print(f"wrote {har_file} ({har_file.stat().st_size // 1024} KiB; {dropped} repeated request(s) dropped, "
          f"{pinned} redirect(s) pinned) and "
          f"{cases_dir / CASES_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
