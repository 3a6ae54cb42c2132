"""A whole synthetic payer world, findings built from the sandbox oracle: the tasks must match the truth."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

from bots.findings import AuthorizationFinding, ClaimStatusFinding, CorrespondenceFinding, Provenance
from sandbox.pdf import letter_pdf
from sandbox.world import PROFILES, World
from workqueue.inventory import import_claims
from workqueue.persist import persist_findings
from workqueue.tasks import list_tasks

TODAY = date(2026, 3, 2)
WHEN = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def _prov() -> Provenance:
    return Provenance(payer_id="meridian", account="main", url="http://127.0.0.1/meridian/x", observed_at=WHEN)


def _dec(value):
    return Decimal(value) if value is not None else None


def test_world_tasks_match_the_oracle(session, tmp_path):
    world = World(PROFILES["meridian"], seed=7, today=TODAY)
    oracle = world.oracle()
    inventory = tmp_path / "inv.csv"
    inventory.write_text(world.inventory_csv())
    import_claims(inventory, session)
    findings = []
    for number, c in oracle["claims"].items():
        raw = "Awaiting other insurance information" if c["unmapped_wording"] else f"status {c['status_category']}"
        findings.append(ClaimStatusFinding(
            claim_number=number, payer_claim_number=c["payer_claim_number"], reference_number=c["reference_number"],
            raw_status=raw,
            status_category=c["status_category"], allowed=_dec(c["allowed"]), paid=_dec(c["paid"]),
            patient_responsibility=_dec(c["patient_responsibility"]),
            adjudication_date=date.fromisoformat(c["adjudication_date"]) if c["adjudication_date"] else None,
            provenance=_prov()))
    for letter in world.visible_letters():
        data = letter_pdf(letter, oracle["payer_name"])
        path = tmp_path / f"{letter.letter_id}.download"
        path.write_bytes(data)
        findings.append(CorrespondenceFinding(
            portal_document_id=letter.letter_id, title=letter.title, letter_date=letter.letter_date,
            suggested_file_name=letter.file_name, file_path=str(path), sha256=hashlib.sha256(data).hexdigest(),
            provenance=_prov()))
    for a in oracle["authorizations"]:
        findings.append(AuthorizationFinding(
            auth_number=a["auth_number"], member_id=a["member_id"], service=a["service"],
            procedure_codes=a["procedure_codes"], raw_status=a["status"], status=a["status"],
            approved_units=a["approved_units"], used_units=a["used_units"],
            start_date=a["start_date"], end_date=a["end_date"], requested_date=a["requested_date"],
            provenance=_prov()))
    persist_findings(session, findings)
    again = persist_findings(session, findings)
    assert (again.tasks_created, again.tasks_updated, again.findings_stored, again.documents_stored) == (0, 0, 0, 0)

    def claims_of(kind):
        return {t.claim_number: t for t in list_tasks(session, kind=kind)}

    truth = oracle["claims"]
    assert set(claims_of("denial_review")) == {n for n, c in truth.items() if c["status_category"] == "F2"}
    records = claims_of("records_request")
    assert set(records) == {n for n, c in truth.items() if c["status_category"] in ("P3", "R4")}
    for letter in oracle["letters"]:
        if letter["type"] == "records_request":
            task = records[letter["claim_number"]]
            assert task.reference_number == letter["reference_number"]
            assert task.deadline.isoformat() == letter["due_date"]
        if letter["type"] == "denial":
            assert claims_of("denial_review")[letter["claim_number"]].deadline.isoformat() == letter["due_date"]
    assert set(claims_of("claim_rejected")) == {n for n, c in truth.items() if c["status_category"] in ("A6", "A7")}
    not_found = claims_of("claim_not_found")
    assert {n: t.reference_number for n, t in not_found.items()} == {
        n: c["reference_number"] for n, c in truth.items() if c["status_category"] == "D0"}
    assert set(claims_of("underpayment_review")) == {
        n for n, c in truth.items() if c["status_category"] in ("F1", "F3")
        and Decimal(c["allowed"]) < Decimal(c["expected_amount"]) - Decimal("1.00")}
    [unmapped] = list_tasks(session, kind="unmapped_status")
    assert {e["claim_number"] for e in unmapped.evidence} == {n for n, c in truth.items() if c["unmapped_wording"]}
    reviews = list_tasks(session, kind="correspondence_review")
    assert {t.reference_number for t in reviews} == {x["letter_id"] for x in oracle["letters"] if x["type"] == "other"}
    # claims billed outside their authorization: the world puts exactly two there (after its end, uncovered code)
    assert set(claims_of("auth_mismatch")) == {world.claims[106].claim_number, world.claims[107].claim_number}
