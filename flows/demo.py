"""`payerbot demo`: start the sandbox portals, import their inventory, run the night, show the worklist."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import func, select

from bots.credentials import Credential, CredentialStore
from bots.evidence import payerbot_home
from bots.registry import registry
from sandbox.server import SandboxServer
from workqueue.db import get_engine, init_db, session_scope
from workqueue.inventory import import_claims
from workqueue.models import Claim
from workqueue.tasks import worklist_summary


def store_sandbox_credentials(server: SandboxServer, store: CredentialStore) -> list[str]:
    """Save each sandbox portal's demo account (synthetic) in the encrypted credential store."""
    saved = []
    for portal in server.states:
        if portal not in registry():
            continue
        account = httpx.get(f"{server.url}/_sandbox/{portal}/accounts").json()[0]
        options = {"one_time_code_url": f"{server.url}/_sandbox/{portal}/mailbox"}
        store.put(Credential(payer_id=portal, account="main", username=account["username"],
                             password=account["password"], totp_seed=account["totp_seed"],
                             portal_url=server.portal_url(portal), options=options))
        saved.append(portal)
    return saved


def fetch_inventory(server: SandboxServer, destination: Path) -> Path:
    """Download the practice's claims inventory export that the sandbox produces."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(httpx.get(f"{server.url}/_sandbox/inventory.csv").text)
    return destination


def drop_clearinghouse_files(server: SandboxServer, inbox: Path, portals: list[str]) -> dict[str, list[str]]:
    """Put the sandbox clearinghouse's files in the night's inbox: an 835 for half of each portal's paid and
    denied claims, a 277 for its pending ones. Returns the claim numbers each 835 carries, per portal."""
    inbox.mkdir(parents=True, exist_ok=True)
    remitted = {}
    for portal in portals:
        for kind, claims in (("835", "half"), ("277", "all")):
            base = f"{server.url}/_sandbox/{portal}/edi/{kind}"
            carried = httpx.get(f"{base}/claims", params={"claims": claims}).json()
            if not carried:
                continue
            (inbox / f"{portal}-{kind}.{kind}").write_text(httpx.get(base, params={"claims": claims}).text)
            if kind == "835":
                remitted[portal] = carried
    return remitted


def _checked_since(started) -> int:
    with session_scope(get_engine()) as session:
        return session.exec(select(func.count()).select_from(Claim).where(Claim.last_checked_at >= started)).one()


def run_demo(*, port: int | None, seed: int, claims: int, console: Console, faults: str | None = None,
             maintenance_wait_minutes: float = 1) -> int:
    """The whole demo (the sandbox portals with a fault SPEC, if any); returns the open tasks' count."""
    from bots.findings import utc_now
    from flows.nightly import nightly

    engine = get_engine()
    init_db(engine)
    with SandboxServer(port=port, seed=seed, claims=claims, faults=faults) as server:
        console.print(f"[bold]Sandbox portals[/] at {server.url}: {', '.join(server.states)}"
                      + (f" (faults: {faults})" if faults else ""))
        inventory = fetch_inventory(server, payerbot_home() / "inventory.csv")
        with session_scope(engine) as session:
            report = import_claims(inventory, session)
        console.print(f"Imported the claims inventory: {report}")
        payers = store_sandbox_credentials(server, CredentialStore())
        console.print(f"Stored encrypted credentials for: {', '.join(payers)}")
        remitted = drop_clearinghouse_files(server, payerbot_home() / "edi" / "inbox", payers)
        console.print(f"The clearinghouse's 835 pays {sum(map(len, remitted.values()))} claims; it and a 277 "
                      "wait in the inbox the night reads first")
        with session_scope(engine) as session:
            due = session.exec(select(func.count()).select_from(Claim).where(Claim.finalized == False)).one()  # noqa: E712
        due -= sum(map(len, remitted.values()))  # finalized by the 835: no portal visit
        started = utc_now()
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(nightly(
            payer_ids=payers, maintenance_wait_minutes=maintenance_wait_minutes)), daemon=True)
        with Progress(TextColumn("[bold]nightly run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            bar = progress.add_task("claims", total=due)
            worker.start()
            while worker.is_alive():
                progress.update(bar, completed=min(due, _checked_since(started)))
                time.sleep(0.5)
            progress.update(bar, completed=min(due, _checked_since(started)))
    if not result:
        raise RuntimeError("the nightly flow did not finish; see the log above")
    files = result.get("edi", {})
    if files:
        console.print(f"Clearinghouse files: {files.get('edi_files_imported', 0)} imported, "
                      f"{files.get('edi_files_rejected', 0)} refused, {files.get('visits_saved', 0)} portal visits "
                      "saved")
    for account in result["accounts"]:
        console.print(f"  {account['payer_id']}/{account['account']}: {account['claims_checked']} claims, "
                      f"{account['letters_downloaded']} letters, {account['authorizations']} authorizations"
                      + (f" - stopped by {account['stopped_by']}" if account["stopped_by"] else ""))
    with session_scope(engine) as session:
        summary = worklist_summary(session)
    table = Table(title="Worklist: open tasks by kind and owner")
    for column in ("kind", "owner", "open tasks"):
        table.add_column(column, justify="right" if column == "open tasks" else "left")
    for kind, owner, count in summary:
        table.add_row(kind, owner, str(count))
    console.print(table)
    console.print("Next: [bold]payerbot tasks list[/] (or --json); for the web worklist add yourself first with "
                  "[bold]payerbot users add YOURNAME --role admin[/], then run [bold]payerbot web[/] and sign in.")
    return sum(count for _k, _o, count in summary)
