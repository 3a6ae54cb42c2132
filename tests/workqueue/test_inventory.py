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
