"""Everything the inventory knows reaches the adapter: an imported CSV, planned, gives full ClaimQuery values."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tests.workqueue.conftest import NOW
from workqueue.inventory import import_claims
from workqueue.planning import plan_night

INVENTORY = """\
claim_number,payer_id,payer_name,member_id,patient_last_name,patient_first_name,patient_dob,date_of_service,\
submitted_date,billed_amount,expected_amount,payer_claim_number,procedure_codes,units,auth_number,provider_npi
C10,meridian,Meridian Health Plan,MRD100200300, Ashdown ,Avery,1980-03-04,2026-01-10,2026-01-12,"$1,234.50",\
900.00,MHP26001000001,99213; 36415,1;2,PA77,1234567893
C11,meridian,Meridian Health Plan,MRD100200301,Brook,Jordan,07/19/1975,01/11/2026,01/15/2026,180,150,,97110,3,,\
1987654321
C20,northwind,Northwind Health,NW555,Cole,Sam,2001-12-31,2026-02-01,,,,,,,,
"""


def _import(tmp_path: Path, session) -> None:
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY, encoding="utf-8")
    report = import_claims(path, session)
    assert (report.new, report.updated) == (3, 0)
    session.commit()


def test_night_plan_queries_carry_every_inventory_field(session, tmp_path):
    _import(tmp_path, session)
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert sorted(plan.claims) == ["meridian", "northwind"]
    first, second = plan.claims["meridian"]
    assert first.model_dump() == {
        "claim_number": "C10", "payer_id": "meridian", "member_id": "MRD100200300",
        "date_of_service": date(2026, 1, 10), "payer_claim_number": "MHP26001000001",
        "billed_amount": Decimal("1234.50"), "patient_first_name": "Avery", "patient_last_name": "Ashdown",
        "patient_dob": date(1980, 3, 4), "procedure_codes": ["99213", "36415"], "provider_npi": "1234567893",
        "submitted_date": date(2026, 1, 12), "practice": "default"}
    # US dates and a bare amount are read as the importer reads them; no payer claim number yet
    assert (second.claim_number, second.patient_first_name, second.patient_last_name) == ("C11", "Jordan", "Brook")
    assert (second.patient_dob, second.date_of_service, second.submitted_date) == (
        date(1975, 7, 19), date(2026, 1, 11), date(2026, 1, 15))
    assert (second.billed_amount, second.procedure_codes, second.provider_npi, second.payer_claim_number) == (
        Decimal("180.00"), ["97110"], "1987654321", None)


def test_fields_the_inventory_leaves_blank_are_absent_not_invented(session, tmp_path):
    _import(tmp_path, session)
    [query] = plan_night(session, now=NOW + timedelta(days=1), payer_ids=["northwind"]).claims["northwind"]
    assert (query.claim_number, query.member_id, query.date_of_service) == ("C20", "NW555", date(2026, 2, 1))
    assert (query.patient_first_name, query.patient_last_name, query.patient_dob) == ("Sam", "Cole", date(2001, 12, 31))
    assert (query.billed_amount, query.submitted_date, query.provider_npi, query.payer_claim_number) == (
        None, None, None, None)
    assert query.procedure_codes == []
