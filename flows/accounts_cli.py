"""`payerbot accounts`: each portal account's standing (blocked, logins tonight, held by a run); clearing a block."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bots.credentials import CredentialStore
from bots.findings import utc_now
from workqueue.accounts import account_history, account_rows, clear_account, lease_is_live, night_of
from workqueue.audit import record_cli
from workqueue.cli import current_actor, open_engine
from workqueue.db import session_scope

accounts_app = typer.Typer(help="Portal accounts: blocks after a login problem, tonight's logins, live runs.",
                           no_args_is_help=True)
console = Console()


def _state(row) -> str:
    if row is None:
        return "ok"
    if row.state == "blocked":
        return "blocked"
    return f"working (run {row.lease_run_id})" if lease_is_live(row) else "ok"


@accounts_app.command("list")
def accounts_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every stored account and every account the work queue knows: state, why, tonight's logins."""
    with session_scope(open_engine()) as session:
        rows = {(r.payer_id, r.account): r for r in account_rows(session)}
        keys = sorted(set(rows) | {(c.payer_id, c.account) for c in CredentialStore().all()})
        tonight = night_of(utc_now())
        out = []
        for payer_id, account in keys:
            row = rows.get((payer_id, account))
            out.append({
                "account": f"{payer_id}/{account}", "payer_id": payer_id, "name": account, "state": _state(row),
                "reason": row.blocked_reason if row and row.state == "blocked" else None,
                "blocked_kind": row.blocked_kind if row else None,
                "since": row.blocked_at.isoformat() if row and row.blocked_at else None,
                "task_id": row.blocked_task_id if row else None,
                "logins_tonight": row.logins if row and row.night == tonight else 0,
            })
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table("account", "state", "why", "since (UTC)", "task", "logins tonight")
    for item in out:
        table.add_row(item["account"], item["state"], item["reason"] or "", (item["since"] or "")[:16],
                      str(item["task_id"] or ""), str(item["logins_tonight"]))
    console.print(table)


@accounts_app.command("clear")
def accounts_clear(
    account: Annotated[str, typer.Argument(help="PAYER/ACCOUNT, as `accounts list` shows it.")],
    note: Annotated[str, typer.Option(help="What was fixed (kept in the account's history).")],
) -> None:
    """Let the bot log in again after an operator fixed a login problem (recorded in history)."""
    payer_id, _, name = account.partition("/")
    if not payer_id or not name:
        typer.echo("give the account as PAYER/ACCOUNT, e.g. meridian/main", err=True)
        raise typer.Exit(2)
    try:
        with session_scope(open_engine()) as session:
            closed = clear_account(session, payer_id, name, actor=current_actor(), note=note)
            record_cli(session, "block_cleared", "account", account, note)
    except (LookupError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    tasks = f"; closed task(s) {', '.join(f'#{t}' for t in closed)}" if closed else ""
    typer.echo(f"{account} cleared{tasks}. The next night logs in again.")


@accounts_app.command("history")
def accounts_history(account: Annotated[str, typer.Argument(help="PAYER/ACCOUNT")]) -> None:
    """What happened to one account: blocks and clears, who and why."""
    payer_id, _, name = account.partition("/")
    with session_scope(open_engine()) as session:
        for entry in account_history(session, payer_id, name):
            typer.echo(f"{entry.at:%Y-%m-%d %H:%M} {entry.actor}: {entry.action} - {entry.note or ''}")
