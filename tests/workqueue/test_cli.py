"""The claims and tasks commands through typer's CliRunner, on the default database under PAYERBOT_HOME."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session, func, select
from typer.testing import CliRunner

from sandbox.world import PROFILES, World, rows_to_csv
from tests.workqueue.conftest import status
from workqueue.cli import claims_app, tasks_app
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import Claim, TaskHistory
from workqueue.persist import persist_findings

runner = CliRunner()


def _inventory(tmp_path, break_line: int | None = None):
    world = World(PROFILES["meridian"], seed=5, today=date(2026, 3, 1), claims=20)
    rows = world.inventory_rows()
    if break_line:
        rows[break_line - 2]["billed_amount"] = "$12.3.4"
    path = tmp_path / "inventory.csv"
    path.write_text(rows_to_csv(rows))
    return path, world


def test_import_with_a_bad_line_prints_it_and_imports_nothing(home, tmp_path):
    path, _ = _inventory(tmp_path, break_line=9)
    result = runner.invoke(claims_app, ["import", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("inventory.csv line 9: billed_amount")
    engine = init_db(get_engine())
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Claim)).one() == 0


def test_import_then_tasks_list_json_and_biller_actions(home, tmp_path):
    path, world = _inventory(tmp_path)
    result = runner.invoke(claims_app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "20 new" in result.stdout
    denied = next(c for c in world.claims if c.outcome == "denied")
    with session_scope() as s:
        persist_findings(s, [status(denied.claim_number, "F2", "Denied", adjudication_date=denied.adjudication_date,
                                    payer_claim_number=denied.payer_claim_number)])
    result = runner.invoke(tasks_app, ["list", "--json", "--owner", "denials-team"])
    assert result.exit_code == 0, result.output
    [task] = json.loads(result.stdout)
    assert task["kind"] == "denial_review" and task["claim"] == denied.claim_number
    assert task["reference_number"] == denied.payer_claim_number
    assert task["deadline"] == str(denied.adjudication_date.fromordinal(denied.adjudication_date.toordinal() + 90))
    assert set(task) >= {"id", "payer", "owner", "status", "priority", "title", "payer_said", "action", "evidence",
                         "uploaded_document", "next_check_date"}
    assert json.loads(runner.invoke(tasks_app, ["list", "--json", "--owner", "nobody"]).stdout) == []

    assert runner.invoke(tasks_app, ["assign", str(task["id"]), "dana"]).exit_code == 0
    assert runner.invoke(tasks_app, ["close", str(task["id"]), "--note", "appeal sent"]).exit_code == 0
    shown = runner.invoke(tasks_app, ["show", str(task["id"])])
    assert shown.exit_code == 0 and "appeal sent" in shown.stdout and "dana" in shown.stdout
    assert json.loads(runner.invoke(tasks_app, ["list", "--json"]).stdout) == []
    with session_scope() as s:
        actions = s.exec(select(TaskHistory.action).where(TaskHistory.task_id == task["id"])).all()
    assert actions == ["created", "update", "closed"]
    assert runner.invoke(tasks_app, ["show", "999"]).exit_code == 1
    table = runner.invoke(tasks_app, ["list", "--status", "all"])
    assert table.exit_code == 0 and denied.claim_number in table.stdout
