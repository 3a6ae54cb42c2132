"""The `payerbot` command: demo, sandbox, nightly run, claims, tasks, credentials and payers."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bots.credentials import Credential, CredentialStore, CredentialStoreError
from bots.files import private_umask
from bots.redaction import install as install_redactor
from flows.accounts_cli import accounts_app
from flows.edi_cli import edi_app
from flows.export_cli import export_app
from flows.payer_cli import payer_app
from flows.users_cli import audit_command, users_app
from workqueue.cli import claims_app, open_engine, tasks_app
from workqueue.practices import DEFAULT_PRACTICE, check_practice

app = typer.Typer(help="Robots that work payer portals overnight and hand billers a worklist.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
run_app = typer.Typer(help="Run a flow now.", no_args_is_help=True)
credentials_app = typer.Typer(help="Portal credentials, stored encrypted under the secrets folder.",
                              no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(claims_app, name="claims")
app.add_typer(tasks_app, name="tasks")
app.add_typer(credentials_app, name="credentials")
app.add_typer(payer_app, name="payer")
app.add_typer(accounts_app, name="accounts")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
app.add_typer(edi_app, name="edi")
app.command("audit")(audit_command)
console = Console()


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # Prefect's loggers propagate here at INFO; keep the console quiet
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    install_redactor()
    private_umask()  # every file and folder payerbot creates is owner-only from creation


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Sandbox port (default: a free one).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    claims: Annotated[int, typer.Option(help="Claims per sandbox payer.")] = 220,
    faults: Annotated[str | None, typer.Option(
        help="Fault SPEC for the sandbox portals, e.g. 'errors=0.1,meridian.expire_every=150'.")] = None,
    maintenance_wait: Annotated[float, typer.Option(
        "--maintenance-wait", metavar="MINUTES", min=0,
        help="Minutes to keep retrying a sandbox portal in maintenance before reporting it.")] = 1,
) -> None:
    """Start the sandbox portals, import their inventory, run the nightly flow and show the worklist."""
    from flows.demo import run_demo
    from sandbox.faults import FaultSpecError, parse_spec
    from sandbox.server import available_portals

    try:
        parse_spec(faults or "", available_portals())
    except FaultSpecError as exc:
        console.print(f"[red]--faults: {exc}[/]")
        raise typer.Exit(2) from None
    open_tasks = run_demo(port=port, seed=seed, claims=claims, console=console, faults=faults,
                          maintenance_wait_minutes=maintenance_wait)
    if open_tasks == 0:
        console.print("[red]The worklist is empty: the demo found nothing to do.[/]")
        raise typer.Exit(1)


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8700,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 7,
    claims: Annotated[int, typer.Option(help="Claims per sandbox payer.")] = 220,
    faults: Annotated[str | None, typer.Option(
        help="Fault SPEC, e.g. 'errors=0.1,slow=0.05,slow_s=2,claimbridge.maintenance=on'.")] = None,
    practice: Annotated[list[str] | None, typer.Option(
        "--practice", help="A client practice with its own logins and claims (repeatable; default: one).")] = None,
    accounts_per_practice: Annotated[int, typer.Option(
        min=1, max=10, help="Portal logins per practice (see /_sandbox/<portal>/accounts).")] = 1,
) -> None:
    """Serve the simulated payer portals (and their oracle under /_sandbox) until interrupted."""
    from sandbox.faults import FaultSpecError, parse_spec
    from sandbox.server import DEFAULT_PRACTICES, available_portals, serve

    try:
        parse_spec(faults or "", available_portals())
    except FaultSpecError as exc:
        console.print(f"[red]--faults: {exc}[/]")
        raise typer.Exit(2) from None
    practices = tuple(practice) if practice else DEFAULT_PRACTICES
    if len(set(practices)) != len(practices):
        console.print("[red]--practice: each practice once[/]")
        raise typer.Exit(2)
    console.print(f"Sandbox portals on http://127.0.0.1:{port}/ (oracle: /_sandbox/<portal>/oracle, logins: "
                  "/_sandbox/<portal>/accounts)" + (f", faults: {faults}" if faults else "")
                  + (f", practices: {', '.join(practices)} x {accounts_per_practice} login(s)"
                     if practice or accounts_per_practice > 1 else ""))
    serve(port=port, seed=seed, claims=claims, faults=faults, practices=practices,
          accounts_per_practice=accounts_per_practice)


@app.command()
def web(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on; beyond 127.0.0.1 only once users exist.")]
    = "127.0.0.1",
    server_name: Annotated[list[str] | None, typer.Option(
        help="A host name browsers use to reach the app, e.g. worklist.example-practice.com (repeatable); "
             "requests for any other name are refused.")] = None,
) -> None:
    """Serve the web worklist: sign-in, tasks, claims, dashboard, exports, operator and admin pages."""
    from workqueue.web import serve
    from workqueue.web.app import enabled_users
    from workqueue.web.settings import WebSettingsError

    engine = open_engine()
    if enabled_users(engine) == 0:
        console.print("No users yet: add one first, e.g. [bold]payerbot users add YOURNAME --role admin[/]")
    console.print(f"Worklist on http://{host}:{port}/ (sign in at /login)")
    try:
        serve(host=host, port=port, allowed_hosts=server_name)
    except (ValueError, WebSettingsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many recent runs.")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Bot health for operators: recent nightly runs, their counts and the errors that stopped accounts."""
    from sqlmodel import select

    from workqueue.db import get_engine, init_db, session_scope
    from workqueue.models import BotRun

    engine = get_engine()
    init_db(engine)
    with session_scope(engine) as session:
        rows = [{"id": r.id, "status": r.status, "started_at": r.started_at.isoformat(),
                 "duration_s": r.duration_s, "payers": r.payers, "errors": r.errors,
                 "counts": {k: v for k, v in r.counts.items() if isinstance(v, int)}}
                for r in session.exec(select(BotRun).order_by(BotRun.id.desc()).limit(limit))]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("run", "status", "started (UTC)", "seconds", "payers", "stored", "tasks +/-", "errors")
    for row in rows:
        counts = row["counts"]
        table.add_row(str(row["id"]), row["status"], row["started_at"][:19], str(row["duration_s"] or ""),
                      ", ".join(row["payers"]), str(counts.get("findings_stored", 0)),
                      f"+{counts.get('tasks_created', 0)} / -{counts.get('tasks_closed', 0)}",
                      "; ".join(f"{e['payer_id']}/{e['account']}: {e['error']}" for e in row["errors"]))
    console.print(table)


@app.command()
def schedule(
    cron: Annotated[str, typer.Option(help="When to run the night (cron, UTC).")] = "0 1 * * *",
    payer: Annotated[list[str] | None, typer.Option(help="Only these payers (repeatable).")] = None,
    cluster: Annotated[bool, typer.Option(
        help="Serve the cluster night: plan here, one flow run per account on the work pool's workers "
             "(needs PREFECT_API_URL: a Prefect server the workers share).")] = False,
    pool: Annotated[str, typer.Option(help="The process work pool of the cluster's workers.")] = "payerbot",
) -> None:
    """Serve the nightly flow on a schedule until interrupted (a Prefect deployment)."""
    from flows.deployments import serve_nightly

    server = os.environ.get("PREFECT_API_URL")
    if cluster and not server:
        console.print("[red]--cluster needs PREFECT_API_URL: the Prefect server the workers share.[/]")
        raise typer.Exit(2)
    what = f"the cluster night (accounts on work pool '{pool}')" if cluster else "the nightly flow"
    where = f"against the Prefect server at {server}" if server else \
        "with a local Prefect (point PREFECT_API_URL at a Prefect server at scale)"
    console.print(f"Serving {what} on '{cron}' {where}.", soft_wrap=True)
    serve_nightly(cron, payer or None, cluster=cluster, work_pool=pool)


@run_app.command("nightly")
def run_nightly(
    payer: Annotated[list[str] | None, typer.Option(help="Only these payers (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Re-check claims even if checked recently.")] = False,
    maintenance_wait: Annotated[float | None, typer.Option(
        "--maintenance-wait", metavar="MINUTES", min=0,
        help="Minutes to keep retrying a portal in maintenance tonight "
             "(default: maintenance_wait_minutes in rules.toml).")] = None,
) -> None:
    """Run the nightly flow now against the configured portals."""
    from flows.nightly import nightly

    result = nightly(payer_ids=payer or None, force=force, maintenance_wait_minutes=maintenance_wait)
    table = Table(title=f"bot run {result['run_id']}")
    for column in ("payer", "account", "claims", "letters", "uploads", "auths", "problems", "stopped by"):
        table.add_column(column)
    for o in result["accounts"]:
        table.add_row(o["payer_id"], o["account"], str(o["claims_checked"]), str(o["letters_downloaded"]),
                      str(o["uploads_done"]), str(o["authorizations"]), str(o["problems"]), o["stopped_by"] or "")
    console.print(table)
    for key, reason in result["skipped"].items():
        console.print(f"[yellow]skipped {key}: {reason}[/]", soft_wrap=True)
    for run_id in result.get("interrupted", []):
        console.print(f"[yellow]run {run_id} was marked interrupted: its process died mid-run[/]")
    edi = result.get("edi") or {}
    if edi.get("edi_files_since_last_night") or edi.get("edi_files_rejected"):
        console.print(f"clearinghouse files: {edi.get('edi_files_imported', 0)} imported from the inbox, "
                      f"{edi.get('edi_files_rejected', 0)} refused (edi/rejected/), {edi.get('visits_saved', 0)} "
                      "portal visits saved since the last night")


def _read_secrets(from_stdin: bool) -> tuple[str, str]:
    """(password, TOTP seed or '') from standard input, or from prompts that do not echo."""
    if from_stdin:
        lines = sys.stdin.read().splitlines()
        password = lines[0] if lines else ""
        totp_seed = lines[1].strip() if len(lines) > 1 else ""
    else:
        password = typer.prompt("Password", hide_input=True)
        totp_seed = typer.prompt("TOTP seed (empty if none)", default="", hide_input=True, show_default=False)
    return password, totp_seed


def _check_totp_seed(seed: str) -> str:
    """The seed as stored (spaces removed, upper case), or BadParameter if it is not base32."""
    text = seed.replace(" ", "").upper()
    try:
        base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise typer.BadParameter("the TOTP seed is not base32 (letters A-Z and digits 2-7)") from None
    return text


@credentials_app.command("set")
def credentials_set(
    payer_id: str,
    account: str,
    username: Annotated[str | None, typer.Option(help="The portal login name (prompted for if not given).")] = None,
    from_stdin: Annotated[bool, typer.Option(
        "--stdin", help="Read the password (first line) and the TOTP seed, if any (second line) from standard "
                        "input instead of prompting; needs --username.")] = False,
    portal_url: Annotated[str | None, typer.Option(help="Override the manifest's portal URL.")] = None,
    option: Annotated[list[str] | None, typer.Option(help="key=value adapter options (repeatable).")] = None,
    practice: Annotated[str, typer.Option(
        help="The client practice this account works for: only that practice's claims, uploads and letters go "
             "through it.")] = DEFAULT_PRACTICE,
) -> None:
    """Store or replace one portal account's credential (encrypted).

    The password and TOTP seed are never command-line values (`ps` and the shell history would see them):
    they are prompted for without echo, or read from standard input with --stdin. An account name is one
    account per payer whatever the practice: another practice's "main" on the same payer is refused.
    """
    try:
        practice = check_practice(practice)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if from_stdin and not username:
        raise typer.BadParameter("--stdin reads the secrets only: give the login name with --username")
    username = username or typer.prompt("Username")
    bad = [item for item in option or [] if "=" not in item]
    if bad:
        raise typer.BadParameter(f"--option takes key=value, not {bad[0]!r}")
    options = dict(item.split("=", 1) for item in option or [])
    password, totp_seed = _read_secrets(from_stdin)
    if not password:
        raise typer.BadParameter("the password is empty" + (" (nothing on the first line of standard input)"
                                                             if from_stdin else ""))
    totp_seed = _check_totp_seed(totp_seed) if totp_seed else ""
    try:
        store = CredentialStore()
        held = next((c for c in store.all() if (c.payer_id, c.account) == (payer_id, account)), None)
        if held is not None and held.practice != practice:
            # The portal account's key is (payer, account): two practices cannot share a name on one payer.
            console.print(f"[red]{payer_id}/{account} is already the account of practice {held.practice}; "
                          f"choose another account name for practice {practice}.[/]", soft_wrap=True)
            raise typer.Exit(1)
        store.put(Credential(payer_id=payer_id, account=account, username=username, password=password,
                             totp_seed=totp_seed or None, portal_url=portal_url, options=options, practice=practice))
    except CredentialStoreError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"Stored {payer_id}/{account}" + (f" for practice {practice}." if practice != DEFAULT_PRACTICE
                                                    else "."))


@credentials_app.command("list")
def credentials_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List stored accounts (never their secrets)."""
    try:
        stored = CredentialStore().all()
    except CredentialStoreError as exc:
        console.print(f"[red]{exc}[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    rows = [{"payer_id": c.payer_id, "account": c.account, "practice": c.practice, "username": c.username,
             "totp": c.totp_seed is not None, "portal_url": c.portal_url} for c in stored]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("payer", "account", "practice", "username", "totp", "portal url")
    for row in rows:
        table.add_row(row["payer_id"], row["account"], row["practice"], row["username"],
                      "yes" if row["totp"] else "no", row["portal_url"] or "(manifest)")
    console.print(table)


if __name__ == "__main__":
    app()
