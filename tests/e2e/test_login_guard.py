"""Every login problem blocks its account after one attempt, over two nights, until an operator clears it."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bots.credentials import Credential, CredentialStore
from flows.cli import app
from workqueue.models import Authorization, Claim, Document, StatusFinding, Task

pytestmark = pytest.mark.e2e
cli = CliRunner()

# (what goes wrong, the sandbox fault that makes it happen, the task kind an operator gets)
LOGIN_PROBLEMS = [
    ("wrong password", None, "login_failed"),
    ("MFA code refused", {"mfa_refuse": "on"}, "mfa_required"),
    ("captcha at login", {"login_captcha": "on"}, "captcha_challenge"),
    ("unknown login page", {"login_layout": 2}, "portal_changed"),
]


def _accounts(night) -> dict[str, dict]:
    result = cli.invoke(app, ["accounts", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["account"]: row for row in json.loads(result.output)}


@pytest.mark.parametrize(("problem", "fault", "kind"), LOGIN_PROBLEMS, ids=[p[0] for p in LOGIN_PROBLEMS])
def test_a_login_problem_costs_one_attempt_over_two_nights(night_factory, problem, fault, kind) -> None:
    night = night_factory(portals=["meridian"], claims=12, store_credentials=False)
    account = httpx.get(f"{night.server.url}/_sandbox/meridian/accounts").json()[0]
    password = "Wrong-Password-1" if fault is None else account["password"]
    CredentialStore().put(Credential(payer_id="meridian", account="main", username=account["username"],
                                     password=password, totp_seed=account["totp_seed"],
                                     portal_url=night.server.portal_url("meridian")))
    if fault:
        httpx.post(f"{night.server.url}/_sandbox/meridian/faults", json=fault).raise_for_status()

    first = night.run()
    [outcome] = first["accounts"]
    assert outcome["claims_checked"] == 0 and outcome["stopped_by"]
    second = night.run(force=True)
    assert second["accounts"] == [] and list(second["skipped"]) == ["meridian/main"]

    assert night.stats("meridian")["login_attempts"] == {account["username"]: 1}, problem
    assert night.stats("meridian")["locked"] == []
    with night.db() as session:
        tasks = session.exec(select(Task)).all()
        claims = session.exec(select(Claim)).all()
        assert session.exec(select(StatusFinding)).all() == []
        assert session.exec(select(Document)).all() == [] and session.exec(select(Authorization)).all() == []
    assert [(t.kind, t.account, t.owner) for t in tasks] == [(kind, "main", "bot-operators")]
    assert tasks[0].reference_number == f"bot-run-{first['run_id']}" and tasks[0].deadline
    assert all(c.last_checked_at is None and c.status_category is None for c in claims)  # claims untouched
    row = _accounts(night)["meridian/main"]
    assert row["state"] == "blocked" and row["blocked_kind"] == kind and row["task_id"] == tasks[0].id


def test_an_operator_clears_a_block_and_the_next_night_logs_in(night_factory) -> None:
    night = night_factory(portals=["meridian"], claims=12, store_credentials=False)
    account = httpx.get(f"{night.server.url}/_sandbox/meridian/accounts").json()[0]
    fields = {"payer_id": "meridian", "account": "main", "username": account["username"],
              "totp_seed": account["totp_seed"], "portal_url": night.server.portal_url("meridian")}
    good = Credential(password=account["password"], **fields)
    CredentialStore().put(Credential(password="Wrong-Password-1", **fields))
    night.run()
    [task] = _open_tasks(night)
    # closing the task alone is refused: the block is what keeps the bot away from the account
    refused = cli.invoke(app, ["tasks", "close", str(task.id), "--note", "fixed"])
    assert refused.exit_code == 1 and "accounts clear meridian/main" in refused.output
    assert cli.invoke(app, ["accounts", "clear", "meridian/main"]).exit_code != 0  # --note is required

    CredentialStore().put(good)  # the operator stored the new password
    cleared = cli.invoke(app, ["accounts", "clear", "meridian/main", "--note", "password rotated by the payer"])
    assert cleared.exit_code == 0, cleared.output
    assert f"#{task.id}" in cleared.output
    assert _accounts(night)["meridian/main"]["state"] == "ok"
    history = cli.invoke(app, ["accounts", "history", "meridian/main"])
    assert "blocked" in history.output and "cleared - password rotated by the payer" in history.output

    third = night.run()
    [outcome] = third["accounts"]
    assert outcome["stopped_by"] is None and outcome["claims_checked"] == 12
    assert night.stats("meridian")["login_attempts"] == {account["username"]: 2}
    assert _open_tasks(night, kind="login_failed") == []


def _open_tasks(night, kind: str | None = None) -> list[Task]:
    with night.db() as session:
        query = select(Task).where(Task.status == "open")
        if kind:
            query = query.where(Task.kind == kind)
        return list(session.exec(query))
