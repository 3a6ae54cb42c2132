"""`payerbot payer record PAYER`: record conformance cases from the live portal into the payer's `cases/` folder."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bots.findings import ClaimQuery
from bots.recording import Case, RecordingError, toml_value

console = Console(stderr=True)


def _inventory_queries(claims: list[str], inventory: Path | None) -> dict[str, ClaimQuery]:
    """Each claim's search keys: from an inventory CSV when given, else from the work queue's inventory."""
    from workqueue.claims import claim_query
    from workqueue.models import Claim

    if inventory is not None:
        from workqueue.inventory import InventoryError, read_inventory

        try:
            rows = read_inventory(inventory)
        except InventoryError as error:
            raise typer.BadParameter("; ".join(error.messages())) from None
        fields = set(Claim.model_fields)
        known = {row.claim_number: claim_query(Claim(**row.model_dump(include=fields))) for row in rows}
        return {number: known[number] for number in claims if number in known}
    from workqueue.db import get_engine, init_db, session_scope

    engine = get_engine()
    init_db(engine)
    with session_scope(engine) as session:
        found = {number: session.get(Claim, number) for number in claims}
        return {number: claim_query(row) for number, row in found.items() if row is not None}


def _ask(case: Case) -> bool:
    """Show one expected finding and ask the operator whether the portal shows exactly that."""
    console.rule(f"{case.id} ({case.capability})")
    for part, values in (("query", case.query), ("expect", case.expect)):
        console.print(f"[bold]{part}[/]")
        for key, value in values.items():
            console.print(f"  {key} = {toml_value(value)}", soft_wrap=True, markup=False)
    if case.volatile:
        console.print(f"volatile (compared by shape): {', '.join(case.volatile)}")
    return typer.confirm("Is this what the portal shows?", default=False, err=True)


def payer_record(
    payer_id: str,
    claim: Annotated[list[str], typer.Option("--claim", help="Practice claim number to record (repeat).")],
    account: Annotated[str | None, typer.Option(help="Which stored account (default: the first).")] = None,
    inventory: Annotated[Path | None, typer.Option(
        help="Claims inventory CSV with the search keys (default: the work queue's imported inventory).")] = None,
    letters: Annotated[bool, typer.Option("--letters/--no-letters", help="Record the document center.")] = True,
    letters_since: Annotated[str | None, typer.Option(
        help="Only letters dated on or after this day (YYYY-MM-DD): keeps the recording small.")] = None,
    authorizations: Annotated[bool, typer.Option("--authorizations/--no-authorizations",
                                                 help="Record the authorizations list.")] = True,
    upload_claim: Annotated[str | None, typer.Option(
        help="Upload a synthetic PDF against this TEST claim (only where the portal allows test uploads).")] = None,
    scrub: Annotated[list[str] | None, typer.Option(
        "--scrub", metavar="REAL=FAKE", help="A real value to remove from the recording and its stand-in (repeat).")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", help="Accept every expected finding without asking (scripts).")]
    = False,
    sandbox_seed: Annotated[int | None, typer.Option(hidden=True, help="Recording a sandbox portal: its world "
                                                     "seed, so the suite can check the cases against its oracle.")]
    = None,
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
) -> None:
    """Record cases from the live portal into the payer's cases/ folder: a scrubbed HAR and confirmed findings.

    Claims are recorded by member + date of service and by payer claim number, plus a not-found search,
    letters, authorizations and (only with --upload-claim) an upload. Each expected finding is shown and
    must be confirmed; a refused one is written `confirmed = false` and fails `payer check` until fixed.
    """
    from playwright.sync_api import sync_playwright

    from bots.browser import launch_options
    from bots.credentials import CredentialStore
    from bots.one_time_codes import provider_for
    from bots.recording import Plan, record_cases
    from bots.registry import get_adapter

    adapter_cls = get_adapter(payer_id)
    pairs = scrub or []
    bad = [item for item in pairs if "=" not in item or not item.split("=", 1)[0]]
    if bad:
        raise typer.BadParameter(f"--scrub takes REAL=FAKE, not {bad[0]!r}")
    claims = list(dict.fromkeys(claim + ([upload_claim] if upload_claim else [])))
    queries = _inventory_queries(claims, inventory)
    missing = [number for number in claims if number not in queries]
    if missing:
        raise typer.BadParameter(f"not in the inventory: {', '.join(missing)} (payerbot claims import, or --inventory)")
    store = CredentialStore()
    credentials = [c for c in store.for_payer(payer_id) if account in (None, c.account)]
    if not credentials:
        console.print(f"[red]no stored credential for {payer_id}; use `payerbot credentials set`[/]")
        raise typer.Exit(1)
    credential = credentials[0]
    plan = Plan(claims=[queries[number] for number in claims], letters=letters,
                letters_since=date.fromisoformat(letters_since) if letters_since else None,
                authorizations=authorizations, upload_claim=upload_claim,
                scrub=dict(item.split("=", 1) for item in pairs))
    extra = None
    if sandbox_seed is not None and adapter_cls.manifest.sandbox_portal:
        extra = {"sandbox": {"portal": adapter_cls.manifest.sandbox_portal, "seed": sandbox_seed,
                             "today": date.today()}}
    cases_dir = adapter_cls.package_dir / "cases"
    with tempfile.TemporaryDirectory(prefix="payerbot-record-") as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(playwright, headless=not headed))
        try:
            recording = record_cases(browser, adapter_cls, credential, plan, store=store,
                                     codes=provider_for(credential), cases_dir=cases_dir, work=Path(folder),
                                     confirm=(lambda _case: True) if yes else _ask, extra=extra)
        except RecordingError as error:
            console.print(f"[red]nothing recorded: {error}[/]")
            raise typer.Exit(1) from None
        finally:
            browser.close()
    refused = [case.id for case in recording.cases if not case.confirmed]
    console.print(f"Wrote {len(recording.cases)} case(s) to {recording.cases_path} and {recording.har_path}.")
    if refused:
        console.print(f"[yellow]not confirmed (fix by hand, then set confirmed = true): {', '.join(refused)}[/]")
    console.print(f"Next: `payerbot payer check {payer_id}` replays them offline.")
