"""Inventory import: all or nothing, line numbers as a person counts them, upsert keeps status history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import func, select

from sandbox.world import PROFILES, World, rows_to_csv
from tests.workqueue.conftest import status
from workqueue.inventory import InventoryError, import_claims
from workqueue.models import Claim, StatusFinding
from workqueue.persist import persist_findings


def _world_rows() -> list[dict[str, str]]:
    return World(PROFILES["meridian"], seed=3, today=date(2026, 3, 1), claims=25).inventory_rows()


def _write(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "inventory.csv"
    path.write_text(rows_to_csv(rows))
    return path


def _count(session) -> int:
    return session.exec(select(func.count()).select_from(Claim)).one()


def test_good_file_imports_every_row_with_its_values(session, tmp_path):
    rows = _world_rows()
    report = import_claims(_write(tmp_path, rows), session)
    assert (report.new, report.updated) == (25, 0)
    claim = session.get(Claim, rows[3]["claim_number"])
    assert claim.member_id == rows[3]["member_id"]
    assert claim.expected_amount == Decimal(rows[3]["expected_amount"])
    assert claim.date_of_service == date.fromisoformat(rows[3]["date_of_service"])
    assert claim.procedure_codes == rows[3]["procedure_codes"]


def test_one_bad_row_imports_nothing_and_names_its_line(session, tmp_path):
    rows = _world_rows()
    rows[6]["date_of_service"] = "2026-13-45"   # data row 7 -> line 8 (the header is line 1)
    rows[10]["expected_amount"] = "twelve"      # line 12
    rows[14]["member_id"] = ""                  # line 16
    with pytest.raises(InventoryError) as caught:
        import_claims(_write(tmp_path, rows), session)
    lines = [line for line, _ in caught.value.errors]
    assert lines == [8, 12, 16]
    messages = dict(caught.value.errors)
    assert "date_of_service" in messages[8]
    assert "expected_amount" in messages[12]
    assert "member_id" in messages[16] and "missing" in messages[16]
    assert _count(session) == 0


def test_us_dates_accepted_unknown_column_refused(session, tmp_path):
    rows = _world_rows()[:2]
    rows[0]["date_of_service"] = "01/15/2026"
    import_claims(_write(tmp_path, rows), session)
    assert session.get(Claim, rows[0]["claim_number"]).date_of_service == date(2026, 1, 15)
    bad = [{**row, "ssn": "x"} for row in rows]
    with pytest.raises(InventoryError) as caught:
        import_claims(_write(tmp_path, bad), session)
    assert caught.value.errors[0][0] == 1 and "ssn" in caught.value.errors[0][1]


def test_duplicate_claim_number_refused(session, tmp_path):
    rows = _world_rows()[:3]
    rows.append(dict(rows[0]))
    with pytest.raises(InventoryError) as caught:
        import_claims(_write(tmp_path, rows), session)
    assert caught.value.errors == [(5, f"claim_number {rows[0]['claim_number']} repeats line 2")]


def test_reimport_updates_fields_and_keeps_status_history(session, tmp_path):
    rows = _world_rows()
    import_claims(_write(tmp_path, rows), session)
    number = rows[0]["claim_number"]
    persist_findings(session, [status(number, "P1", "In process", payer_claim_number="MHP1")])
    rows[0]["expected_amount"] = "999.99"
    rows[0]["payer_claim_number"] = ""  # the export lacks it; the portal's number must survive
    report = import_claims(_write(tmp_path, rows), session)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 24)
    claim = session.get(Claim, number)
    assert claim.expected_amount == Decimal("999.99")
    assert claim.payer_claim_number == "MHP1"
    assert claim.status_category == "P1"
    assert session.exec(select(func.count()).select_from(StatusFinding)).one() == 1


def test_practice_column_sets_each_claims_practice_and_blank_is_the_default(session, tmp_path):
    rows = [{**row, "practice": ""} for row in _world_rows()[:4]]
    rows[1]["practice"] = "lakeview"
    rows[2]["practice"] = " riverside "
    import_claims(_write(tmp_path, rows), session)
    practices = [session.get(Claim, row["claim_number"]).practice for row in rows]
    assert practices == ["default", "lakeview", "riverside", "default"]
    (tmp_path / "plain").mkdir()
    import_claims(_write(tmp_path / "plain", _world_rows()[4:6]), session)  # no practice column at all
    assert session.get(Claim, _world_rows()[5]["claim_number"]).practice == "default"


def test_bad_practice_is_refused_naming_line_and_column(session, tmp_path):
    rows = [{**row, "practice": "lakeview"} for row in _world_rows()[:3]]
    rows[1]["practice"] = "Lake View!"  # line 3; practice is the 17th column
    with pytest.raises(InventoryError) as caught:
        import_claims(_write(tmp_path, rows), session)
    [(line, reason)] = caught.value.errors
    assert line == 3 and reason.startswith("practice (column 17): not a practice id")
    assert "inventory.csv line 3: practice (column 17)" in caught.value.messages()[0]
    assert _count(session) == 0


def test_a_claim_number_of_another_practice_refuses_the_whole_file(session, tmp_path):
    rows = [{**row, "practice": "lakeview"} for row in _world_rows()[:3]]
    import_claims(_write(tmp_path, rows), session)
    session.commit()
    other = [{**row, "practice": "riverside"} for row in _world_rows()[3:6]]
    other.insert(1, {**rows[2], "practice": "riverside", "expected_amount": "1.00"})  # line 3
    (tmp_path / "second").mkdir()
    with pytest.raises(InventoryError) as caught:
        import_claims(_write(tmp_path / "second", other), session)
    [message] = caught.value.messages()
    assert message.startswith(f"inventory.csv line 3: claim_number (column 1): claim {rows[2]['claim_number']} "
                              "already belongs to practice lakeview, not riverside")
    assert _count(session) == 3  # nothing of the second file, and the first practice's claim untouched
    claim = session.get(Claim, rows[2]["claim_number"])
    assert (claim.practice, claim.expected_amount) == ("lakeview", Decimal(rows[2]["expected_amount"]))
