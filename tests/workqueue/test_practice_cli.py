"""The CLI across practices: PAYERBOT_USER shows only that web user's practices; --practice narrows them."""

from __future__ import annotations

import json

from sqlmodel import select
from typer.testing import CliRunner

from tests.workqueue.conftest import add_claim, status
from workqueue.cli import claims_app, tasks_app
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import AuditEvent, Task
from workqueue.persist import persist_findings
from workqueue.practice_rows import record_account_practices
from workqueue.users import add_user

runner = CliRunner()
PASSWORD = "synthetic-password-1"


def _two_practices() -> dict[str, int]:
    init_db(get_engine())
    with session_scope() as s:
        record_account_practices(s, [("meridian", "main", "default"), ("meridian", "lake", "lakeview")])
        add_claim(s, "C1", member_id="MRD1", patient_last_name="Garcia")
        add_claim(s, "L1", practice="lakeview", member_id="MRD2", patient_last_name="Garcia")
        lake = status("L1", "F2", "Denied")
        persist_findings(s, [status("C1", "F2", "Denied"), lake.model_copy(update={
            "provenance": lake.provenance.model_copy(update={"account": "lake"})})])
        add_user(s, "lena", "biller", PASSWORD, practices=["lakeview"])
        add_user(s, "dora", "biller", PASSWORD)  # none listed: the default practice only
        add_user(s, "ada", "admin", PASSWORD)
        return {t.claim_number: t.id for t in s.exec(select(Task)).all()}


def _claims(*args: str) -> list[str]:
    result = runner.invoke(tasks_app, ["list", "--json", *args])
    assert result.exit_code == 0, result.output
    return sorted(t["claim"] for t in json.loads(result.stdout))


def test_payerbot_user_sees_only_their_practices_and_is_the_audited_actor(home, monkeypatch):
    ids = _two_practices()
    assert _claims() == ["C1", "L1"]  # the machine's operator: every practice
    assert _claims("--practice", "lakeview") == ["L1"]
    monkeypatch.setenv("PAYERBOT_USER", "lena")
    assert _claims() == ["L1"]
    assert _claims("--practice", "default") == []  # --practice never widens what the user sees
    hits = json.loads(runner.invoke(claims_app, ["search", "Garcia", "--json"]).stdout)
    assert [h["claim_number"] for h in hits] == ["L1"]
    listed = json.loads(runner.invoke(claims_app, ["list", "--json"]).stdout)
    assert [c["claim_number"] for c in listed] == ["L1"]
    hidden = runner.invoke(claims_app, ["show", "C1"])
    assert hidden.exit_code == 1 and "no claim C1" in hidden.output
    other = runner.invoke(tasks_app, ["show", str(ids["C1"])])
    assert other.exit_code == 1 and f"no task {ids['C1']}" in other.output
    assert runner.invoke(tasks_app, ["assign", str(ids["C1"]), "lena"]).exit_code == 1
    assert runner.invoke(tasks_app, ["show", str(ids["L1"])]).exit_code == 0
    monkeypatch.setenv("PAYERBOT_USER", "dora")
    assert _claims() == ["C1"]
    monkeypatch.setenv("PAYERBOT_USER", "ada")
    assert _claims() == ["C1", "L1"]
    monkeypatch.setenv("PAYERBOT_USER", "nobody")
    refused = runner.invoke(tasks_app, ["list", "--json"])
    assert refused.exit_code == 1 and "PAYERBOT_USER=nobody is not an enabled web user" in refused.output
    with session_scope() as s:
        actors = {e.actor for e in s.exec(select(AuditEvent).where(AuditEvent.object_type == "task")).all()}
    assert actors == {"lena"}  # the task views were lena's (the refused ones recorded nothing)


def test_export_under_payerbot_user_holds_only_their_rows(home, monkeypatch, tmp_path):
    from flows.export_cli import export_app

    _two_practices()
    monkeypatch.setenv("PAYERBOT_USER", "lena")
    for what in ("claims", "tasks"):
        out = tmp_path / f"{what}.json"
        result = runner.invoke(export_app, [what, "--output", str(out), "--json"])
        assert result.exit_code == 0, result.output
        assert {r["claim_number"] for r in json.loads(out.read_text())} == {"L1"}


def test_users_add_and_practices_commands(home):
    init_db(get_engine())
    from flows.users_cli import users_app

    added = runner.invoke(users_app, ["add", "pia", "--role", "biller", "--practice", "lakeview", "--practice",
                                      "riverside", "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    rows = {r["name"]: r for r in json.loads(runner.invoke(users_app, ["list", "--json"]).stdout)}
    assert rows["pia"]["practices"] == ["lakeview", "riverside"]
    assert runner.invoke(users_app, ["practices", "pia", "--practice", "default"]).exit_code == 0
    assert json.loads(runner.invoke(users_app, ["list", "--json"]).stdout)[0]["practices"] == ["default"]
    bad = runner.invoke(users_app, ["add", "zed", "--role", "biller", "--practice", "Bad Name", "--password-stdin"],
                        input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "not a practice id" in bad.output
