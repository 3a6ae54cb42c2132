"""`payerbot users` (web users and roles) and `payerbot audit` (who saw or changed what)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workqueue.audit import cli_source, event_as_dict, list_events, record, utc_day
from workqueue.cli import current_actor, open_engine
from workqueue.db import session_scope
from workqueue.models import USER_ROLES
from workqueue.practices import DEFAULT_PRACTICE, shown_practices
from workqueue.users import UserError, add_user, list_users, set_disabled, set_password, set_practices

users_app = typer.Typer(help="People who sign in to the web worklist, and their roles (biller, operator, admin).",
                        no_args_is_help=True)
console = Console()


def _password(from_stdin: bool) -> str:
    """The password from standard input's first line, or prompted twice without echo (never an argument)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _audit(action: str, name: str, detail: str | None = None) -> None:
    with session_scope(open_engine()) as session:
        record(session, actor=current_actor(), action=action, object_type="user", object_id=name,
               source=cli_source(), detail=detail)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(USER_ROLES)}.")],
    team: Annotated[str | None, typer.Option(help="The owner name of the user's team, e.g. denials-team.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from standard input.")] = False,
    practice: Annotated[list[str] | None, typer.Option(
        help="A practice whose claims and tasks the user sees (repeatable). None given: the default practice "
             "only. Admins see every practice.")] = None,
) -> None:
    """Add a user; the password is prompted for (or read with --password-stdin) and stored only as an argon2 hash."""
    password = _password(password_stdin)
    try:
        with session_scope(open_engine()) as session:
            user = add_user(session, name, role, password, team=team, practices=practice)
            practices = user.practices
    except UserError as exc:
        _fail(str(exc))
    _audit("user_added", name, f"role {role}" + (f", team {team}" if team else "")
           + (f", practices {practices}" if practices else ""))
    console.print(f"Added {escape(name)} ({role}). They sign in at /login of `payerbot web`.")


@users_app.command("practices")
def users_practices(
    name: str,
    practice: Annotated[list[str] | None, typer.Option(help="A practice the user sees (repeatable); none: the "
                                                             "default practice only.")] = None,
) -> None:
    """Set the practices a biller or operator sees (from their next page on); admins see every practice anyway."""
    try:
        with session_scope(open_engine()) as session:
            practices = set_practices(session, name, practice or []).practices
    except UserError as exc:
        _fail(str(exc))
    _audit("user_practices", name, practices or DEFAULT_PRACTICE)
    console.print(f"{escape(name)} sees: {escape(practices or DEFAULT_PRACTICE)}.")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every user: role, team, practices, enabled or not, last sign-in."""
    with session_scope(open_engine()) as session:
        rows = [{"name": u.name, "role": u.role, "team": u.team, "practices": shown_practices(u),
                 "disabled": u.disabled,
                 "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None}
                for u in list_users(session)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("user", "role", "team", "practices", "state", "last sign-in (UTC)")
    for row in rows:
        table.add_row(escape(row["name"]), row["role"], escape(row["team"] or ""), escape(", ".join(row["practices"])),
                      "disabled" if row["disabled"] else "enabled", (row["last_sign_in_at"] or "never")[:16])
    console.print(table)


def _set_disabled(name: str, disabled: bool) -> None:
    try:
        with session_scope(open_engine()) as session:
            set_disabled(session, name, disabled)
    except UserError as exc:
        _fail(str(exc))
    _audit("user_disabled" if disabled else "user_enabled", name)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Stop a user signing in; their open sessions end now."""
    _set_disabled(name, True)
    console.print(f"{escape(name)} is disabled and signed out.")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Let a disabled user sign in again."""
    _set_disabled(name, False)
    console.print(f"{escape(name)} can sign in again.")


@users_app.command("passwd")
def users_passwd(name: str, password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False) -> None:
    """Set a new password (prompted, or from standard input); the user is signed out everywhere."""
    password = _password(password_stdin)
    try:
        with session_scope(open_engine()) as session:
            set_password(session, name, password)
    except UserError as exc:
        _fail(str(exc))
    _audit("password_set", name)
    console.print(f"{escape(name)} has a new password.")


def _day(text: str | None, option: str, end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        return utc_day(text, end=end)
    except ValueError:
        raise typer.BadParameter(f"{option} takes a date like 2026-12-01, not {text!r}") from None


def audit_command(
    actor: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (view, change, export, sign_in, ...).")] = None,
    object_type: Annotated[str | None, typer.Option("--object", help="Only this kind: task, claim, letter, ...")]
    = None,
    object_id: Annotated[str | None, typer.Option("--id", help="Only this object id (task 42, claim C-1).")] = None,
    since: Annotated[str | None, typer.Option(help="From this UTC day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to and including this UTC day.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The audit trail: every view and change, who, when, what and from where (newest first)."""
    with session_scope(open_engine()) as session:
        events, total = list_events(session, actor=actor, action=action, object_type=object_type,
                                    object_id=object_id, since=_day(since, "--since"),
                                    until=_day(until, "--until", end=True), limit=limit)
        rows = [event_as_dict(e) for e in events]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("when (UTC)", "who", "role", "action", "object", "from", "detail",
                  title=f"{len(rows)} of {total} event(s)")
    for row in rows:
        table.add_row(row["at"][:19], escape(row["actor"]), row["role"] or "", row["action"],
                      escape(f"{row['object_type']} {row['object_id'] or ''}".strip()), escape(row["source"]),
                      escape(row["detail"] or ""))
    console.print(table)
