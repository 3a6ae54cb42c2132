"""`payerbot export claims/tasks`: CSV read back with the csv module, JSON, owner-only, atomic, formula-safe."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from flows.export_cli import export_app
from tests.workqueue.conftest import add_claim
from workqueue.db import get_engine, init_db, session_scope
from workqueue.export import CLAIM_COLUMNS, TASK_COLUMNS, csv_safe
from workqueue.models import Task

runner = CliRunner()
BOM = b"\xef\xbb\xbf"
HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\tTabbed", "\rReturn"]


def _task(claim: str | None, n: int, **kw) -> Task:
    kw.setdefault("owner", "denials-team")
    return Task(kind=kw.pop("kind", "denial_review"), claim_number=claim, payer_id="meridian",
                title=kw.pop("title", f"Task {n}"), dedupe_key=f"k{n}", **kw)


@pytest.fixture
def seeded(home):
    """The default database under PAYERBOT_HOME with three claims and their tasks."""
    engine = init_db(get_engine())
    with session_scope(engine) as s:
        add_claim(s, "C200", status_category="F1", raw_status="Paid in full – gracias", paid=Decimal("80.50"),
                  check_number="EFT-99812", payment_date=date(2026, 2, 20), payer_claim_number="ICN-200")
        add_claim(s, "C100", status_category="F2", raw_status=HOSTILE[0], paid=Decimal("-12.00"),
                  check_number=HOSTILE[3], status_reference="REF-CLAIM-100")
        add_claim(s, "C300", status_category=None, raw_status=None)
        s.add(_task("C100", 1, action="Appeal later", deadline=date(2026, 4, 1), priority="high",
                    reference_number="REF-LATE"))
        s.add(_task("C100", 2, action=HOSTILE[1], owner=HOSTILE[2], deadline=date(2026, 3, 5),
                    reference_number=HOSTILE[4], payer_said=HOSTILE[5]))
        s.add(_task("C100", 3, action="Already closed", deadline=date(2026, 3, 1), status="done"))
        s.add(_task("C200", 4, kind="records_request", action=None, title="Send records", owner="records-team",
                    status="in_progress"))
    return engine


def _read_csv(path) -> tuple[list[str], list[dict]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    reader = csv.reader(io.StringIO(raw[len(BOM):].decode("utf-8"), newline=""))
    header, *body = list(reader)
    return header, [dict(zip(header, line, strict=True)) for line in body]


def test_csv_safe_prefixes_every_formula_trigger_and_nothing_else():
    for text in HOSTILE:
        assert csv_safe(text) == "'" + text
    assert csv_safe(Decimal("-12")) == "'-12.00"  # negative money too: no cell is exempt
    assert csv_safe(Decimal("12.5")) == "12.50"
    assert csv_safe(date(2026, 3, 5)) == "2026-03-05"
    assert csv_safe(None) == ""
    assert csv_safe("Paid = yes") == "Paid = yes"  # only a leading trigger matters


def test_export_claims_csv_matches_the_database_and_joins_the_most_urgent_open_task(seeded, tmp_path):
    out = tmp_path / "claims.csv"
    result = runner.invoke(export_app, ["claims", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 claims" in result.stdout
    header, rows = _read_csv(out)
    assert tuple(header) == CLAIM_COLUMNS
    assert [r["claim_number"] for r in rows] == ["C100", "C200", "C300"]
    c100, c200, c300 = rows
    # C100: task 2 (deadline 3-5) beats task 1 (4-1, high) and the done task 3 (3-1); hostile text is quoted
    assert c100["category"] == "F2"
    assert c100["payer_wording"] == "'" + HOSTILE[0]
    assert c100["paid"] == "'-12.00"
    assert c100["check_eft_number"] == "'" + HOSTILE[3]
    assert c100["next_action"] == "'" + HOSTILE[1]
    assert c100["task_owner"] == "'" + HOSTILE[2]
    assert c100["deadline"] == "2026-03-05"
    assert c100["reference_number"] == "'" + HOSTILE[4]
    assert c100["task_id"] != ""
    # C200: an in_progress task without an action gives its title; UTF-8 survives
    assert c200 | {"task_id": ""} == {
        "claim_number": "C200", "payer": "meridian", "payer_claim_number": "ICN-200", "category": "F1",
        "payer_wording": "Paid in full – gracias", "paid": "80.50", "check_eft_number": "EFT-99812",
        "payment_date": "2026-02-20", "next_action": "Send records", "task_id": "", "task_owner": "records-team",
        "deadline": "", "reference_number": ""}
    assert c300["category"] == c300["next_action"] == c300["task_owner"] == c300["paid"] == ""
    # every cell of the file: none starts with a formula trigger
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_export_claims_json_has_the_raw_values(seeded, tmp_path):
    out = tmp_path / "claims.json"
    result = runner.invoke(export_app, ["claims", "--output", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["claim_number"] for r in data] == ["C100", "C200", "C300"]
    assert data[0]["payer_wording"] == HOSTILE[0]  # JSON is for programs: no quote prefix
    assert data[0]["paid"] == "-12.00"
    assert data[0]["task_owner"] == HOSTILE[2]
    assert data[2]["reference_number"] is None and data[2]["paid"] is None
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_export_tasks_csv_active_by_default_and_all_on_request(seeded, tmp_path):
    out = tmp_path / "tasks.csv"
    result = runner.invoke(export_app, ["tasks", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 tasks" in result.stdout
    header, rows = _read_csv(out)
    assert tuple(header) == TASK_COLUMNS
    assert [r["title"] for r in rows] == ["Task 2", "Task 1", "Send records"]  # deadline order, none last
    first = rows[0]
    assert first["action"] == "'" + HOSTILE[1]
    assert first["owner"] == "'" + HOSTILE[2]
    assert first["reference_number"] == "'" + HOSTILE[4]
    assert first["payer_said"] == "'" + HOSTILE[5]  # the carriage return survives inside the quoted cell
    assert first["status"] == "open" and first["deadline"] == "2026-03-05"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600

    result = runner.invoke(export_app, ["tasks", "--output", str(out), "--status", "all", "--json"])
    assert result.exit_code == 0, result.output
    assert "Wrote 4 tasks" in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))  # replaced the CSV in place
    assert sorted(t["status"] for t in data) == ["done", "in_progress", "open", "open"]
    assert [t["title"] for t in data] == ["Task 3", "Task 2", "Task 1", "Send records"]  # the done one, by date
    assert data[1]["payer_said"] == HOSTILE[5]


def test_the_same_export_twice_is_byte_identical(seeded, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert runner.invoke(export_app, ["tasks", "-o", str(a)]).exit_code == 0
    assert runner.invoke(export_app, ["tasks", "-o", str(b)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("bad", ["missing-folder/out.csv", "a-file/out.csv", "a-folder"])
def test_a_bad_output_gives_a_clear_error_and_leaves_no_file(seeded, tmp_path, bad):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = runner.invoke(export_app, ["claims", "--output", str(tmp_path / bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Cannot write {tmp_path / bad}: ")
    assert ("does not exist" in result.stderr or "is not a folder" in result.stderr
            or "Is a directory" in result.stderr), result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no output, no leftover temp file
    assert not (tmp_path / "missing-folder").exists()


def test_export_is_registered_on_the_main_command(seeded, tmp_path):
    from flows.cli import app

    out = tmp_path / "claims.csv"
    previous = os.umask(0o022)
    try:
        result = runner.invoke(app, ["export", "claims", "--output", str(out)])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert "Wrote 3 claims" in result.stdout
    assert out.read_bytes().startswith(BOM)
