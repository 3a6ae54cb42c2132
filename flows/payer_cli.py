"""`payerbot payer ...`: list, scaffold, check (conformance suite) and try payer adapters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import payers
from bots.registry import registry

payer_app = typer.Typer(help="Operators: add, test and repair payer adapters.", no_args_is_help=True)
console = Console()
REPO_ROOT = Path(payers.__file__).resolve().parent.parent


@payer_app.command("list")
def payer_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Registered payers with their capabilities and the quality their last `payer check` derived."""
    from bots.quality import last_check

    # Quality is what the last conformance run proved (plus exemptions), never a self-declared mark.
    checks = {pid: last_check(pid) for pid in registry()}
    rows = [{"id": pid, "name": cls.manifest.name, "portal_style": cls.manifest.portal_style,
             "capabilities": list(cls.manifest.capabilities),
             "quality": checks[pid]["level"] if checks[pid] else "unchecked",
             "checked_at": checks[pid].get("checked_at") if checks[pid] else None,
             "folder": str(cls.package_dir), "max_sessions": cls.manifest.max_sessions, "mfa": cls.manifest.mfa}
            for pid, cls in sorted(registry().items())]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "name", "style", "capabilities", "quality", "sessions")
    for row in rows:
        table.add_row(row["id"], row["name"], row["portal_style"], ", ".join(row["capabilities"]),
                      row["quality"], str(row["max_sessions"]))
    console.print(table)


@payer_app.command("new")
def payer_new(
    payer_id: str,
    name: Annotated[str, typer.Option(help="The payer's name as billers know it.")],
    url: Annotated[str, typer.Option(help="The portal's ROOT URL, e.g. https://provider.acme.example/ (page "
                                          "paths are joined onto it; not the login page).")],
    style: Annotated[str, typer.Option(help="server_rendered, single_page_app, clearinghouse or other.")]
    = "server_rendered",
    sandbox_portal: Annotated[str, typer.Option(help="Sandbox portal to test against.")] = "",
    mfa: Annotated[str, typer.Option(help="none, totp, email_code or sms_code.")] = "totp",
    into: Annotated[Path | None, typer.Option(help="Folder to create ID in (default: ./payers here; never "
                                                   "the installed package).")] = None,
) -> None:
    """Create DIR/ID from the template (adapter, pages, manifest, status map, cases, quality exemptions)."""
    from flows.scaffold import ScaffoldError, create_payer, default_root, discovery_hint

    if payer_id in registry():
        console.print(f"[red]payer {payer_id!r} already exists[/]")
        raise typer.Exit(1)
    try:
        folder = create_payer(payer_id, name=name, url=url, style=style, sandbox_portal=sandbox_portal, mfa=mfa,
                              root=into or default_root())
    except ScaffoldError as error:
        console.print(str(error), style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1) from error
    console.print(f"Created {folder}.", soft_wrap=True, markup=False)
    hint = discovery_hint(folder.parent)
    if hint:
        # Outside the built-in folder a payer is found only through PAYERBOT_PAYERS (or an entry point).
        console.print(f"To make it discovered: export {hint}  (os.pathsep-separated, add to any already set)",
                      soft_wrap=True, markup=False)
    console.print(f"Next: fill in pages.py and adapter.py, map the wording in status_map.toml, then "
                  f"`payerbot payer check {payer_id}` (docs/adding-a-payer.md).", soft_wrap=True)


@payer_app.command("check")
def payer_check(
    payer_id: str,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    only: Annotated[str | None, typer.Option(
        help="Run only the checks whose names match (a pytest -k expression, e.g. \"claim_status\"), while "
             "repairing; a partial run does not change the payer's recorded quality.")] = None,
) -> None:
    """Run the conformance suite for one payer (against its sandbox portal or recorded cases)."""
    command = [sys.executable, "-m", "pytest", str(REPO_ROOT / "tests" / "conformance"), "--payer", payer_id,
               "-p", "no:cacheprovider", "-q" if not verbose else "-v", "--no-header",
               *(["-k", only] if only else [])]
    from bots.evidence import payerbot_home

    # The suite runs in the repository; the check file it writes must land in *this* data folder,
    # where `payer list` looks, not in one relative to the repository.
    env = {**os.environ, "PAYERBOT_HOME": str(payerbot_home())}
    result = subprocess.run(command, cwd=REPO_ROOT, check=False, env=env)
    raise typer.Exit(result.returncode)


@payer_app.command("try")
def payer_try(
    payer_id: str,
    claim: Annotated[str | None, typer.Option(help="Practice claim number from the inventory.")] = None,
    capability: Annotated[str, typer.Option(help="check_claim_status, download_correspondence or "
                                                 "pull_authorizations.")] = "check_claim_status",
    account: Annotated[str | None, typer.Option(help="Which stored account (default: the first).")] = None,
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
    trace: Annotated[bool, typer.Option(help="Keep a Playwright trace (open with `playwright show-trace`).")]
    = False,
) -> None:
    """Run one capability against a portal now and print the findings (the development loop)."""
    from playwright.sync_api import sync_playwright

    from bots.browser import launch_options
    from bots.credentials import CredentialStore
    from bots.evidence import EvidenceStore, payerbot_home
    from bots.fetching import RequestApiFetch, TraceTab
    from bots.one_time_codes import provider_for
    from bots.registry import get_adapter
    from bots.session import account_session

    adapter_cls = get_adapter(payer_id)
    store = CredentialStore()
    credentials = [c for c in store.for_payer(payer_id) if account in (None, c.account)]
    if not credentials:
        console.print(f"[red]no stored credential for {payer_id}; use `payerbot credentials set`[/]")
        raise typer.Exit(1)
    query = _claim_query(claim) if capability == "check_claim_status" else None
    home = payerbot_home()
    trace_path = home / "traces" / f"{payer_id}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.trace.enc"
    plain_trace = home / "traces" / f".{trace_path.stem}.zip"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(playwright, headless=not headed))
        with account_session(browser, adapter_cls, credentials[0], store=store, evidence=EvidenceStore(),
                             one_time_codes=provider_for(credentials[0]),
                             download_dir=home / "downloads" / "try") as adapter:
            # Tracing starts after the login, so no password or one-time code is ever in a trace.
            if trace:
                adapter.session.context.tracing.start(screenshots=True, snapshots=True)
                # Pages and JSON the adapter fetches itself leave no trace of their own: a tab shows each.
                if isinstance(adapter.session.fetch, RequestApiFetch):
                    adapter.session.fetch.observers.append(TraceTab(adapter.session.context))
            try:
                if capability == "check_claim_status":
                    findings = [adapter.check_claim_status(query)]
                elif capability == "download_correspondence":
                    findings = adapter.download_correspondence(None, set())
                elif capability == "pull_authorizations":
                    findings = adapter.pull_authorizations()
                else:
                    raise typer.BadParameter(f"unknown capability {capability!r}")
            finally:
                if trace:
                    # A trace holds the portal's pages and network (patient data, cookies): it is kept
                    # only encrypted, like the credentials, and opened with `payerbot payer show-trace`.
                    adapter.session.context.tracing.stop(path=plain_trace)
                    store.write_encrypted(trace_path, plain_trace.read_bytes())
                    plain_trace.unlink()
        browser.close()
    for finding in findings:
        print(finding.model_dump_json(indent=2))
    if trace:
        console.print(f"Trace (encrypted): {trace_path}. Open it with `payerbot payer show-trace {trace_path}`.")


@payer_app.command("show-trace")
def payer_show_trace(trace_file: Path) -> None:
    """Decrypt a trace into a temporary folder, open Playwright's trace viewer, delete it afterwards."""
    import tempfile

    from bots.credentials import CredentialStore

    with tempfile.TemporaryDirectory(prefix="payerbot-trace-") as folder:
        plain = Path(folder) / "trace.zip"
        plain.write_bytes(CredentialStore().decrypt_bytes(trace_file.read_bytes()))
        subprocess.run([sys.executable, "-m", "playwright", "show-trace", str(plain)], check=False)


def _claim_query(claim_number: str | None):
    """The inventory's search keys for a claim, read from the work queue."""
    from workqueue.claims import claim_query
    from workqueue.db import get_engine, init_db, session_scope
    from workqueue.models import Claim

    if not claim_number:
        raise typer.BadParameter("--claim is required for check_claim_status")
    engine = get_engine()
    init_db(engine)
    with session_scope(engine) as session:
        row = session.get(Claim, claim_number)
        if row is None:
            raise typer.BadParameter(f"claim {claim_number} is not in the inventory (payerbot claims import)")
        return claim_query(row)


# `payer record` lives in its own module (recording cases from a live portal).
from flows.payer_record import payer_record  # noqa: E402

payer_app.command("record")(payer_record)
