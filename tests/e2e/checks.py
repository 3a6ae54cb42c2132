"""Checks of the work queue against a sandbox oracle, shared by the end-to-end tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlmodel import select

from bots.evidence import from_stored
from tests.e2e.expected import authorization_tasks, claim_tasks
from workqueue.config import load_rules
from workqueue.models import Authorization, Claim, Document, StatusFinding, Task, TaskHistory

ACTIVE = ("open", "in_progress", "waiting_on_payer")


def _task_key(task: Task) -> tuple[str, str]:
    if task.kind == "correspondence_review":
        return task.kind, task.reference_number
    if task.kind == "auth_mismatch":
        return task.kind, f"{task.reference_number}:{task.claim_number}"
    if task.kind.startswith("auth_"):
        return task.kind, task.reference_number
    return task.kind, task.claim_number


def _money(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def check_claims_against_oracle(night, oracle: dict, only: set[str] | None = None) -> None:
    with night.db() as session:
        claims = {c.claim_number: c for c in session.exec(select(Claim).where(Claim.payer_id == oracle["payer_id"]))}
        latest = {}
        for finding in session.exec(select(StatusFinding).order_by(StatusFinding.id)):
            latest[finding.claim_number] = finding
    assert set(claims) == set(oracle["claims"])
    for number, expected in oracle["claims"].items():
        if only is not None and number not in only:
            continue
        claim, stored = claims[number], latest[number].finding
        want = None if expected["unmapped_wording"] else expected["status_category"]
        assert claim.status_category == want, number
        assert claim.raw_status, number
        assert claim.payer_claim_number == (expected["payer_claim_number"] or claim.payer_claim_number), number
        assert stored["reference_number"] == expected["reference_number"], number
        for field in ("allowed", "paid", "patient_responsibility"):
            assert getattr(claim, field) == _money(expected[field]), (number, field)
        assert _money(stored["billed"]) == _money(expected["billed"]), number
        assert stored["carc_codes"] == expected["carc_codes"], number
        assert stored["rarc_codes"] == expected["rarc_codes"], number
        assert stored["check_number"] == expected["check_number"], number
        assert stored["payment_date"] == expected["payment_date"], number
        assert stored["pending_reason"] == expected["pending_reason"], number
        assert stored["crossover_payer"] == expected["crossover_payer"], number
        assert claim.finalized == expected["finalized"], number


def check_tasks_against_oracle(night, oracle: dict, observed: date) -> dict[tuple[str, str], Task]:
    rules = load_rules()
    expected = claim_tasks(oracle, rules, observed) | authorization_tasks(oracle, rules, observed)
    with night.db() as session:
        tasks = session.exec(select(Task).where(Task.payer_id == oracle["payer_id"], Task.status.in_(ACTIVE))).all()
    unmapped = [t for t in tasks if t.kind == "unmapped_status"]
    assert len(unmapped) == (1 if any(c["unmapped_wording"] for c in oracle["claims"].values()) else 0)
    found = {_task_key(t): t for t in tasks if t.kind != "unmapped_status"}
    assert len(found) == len(tasks) - len(unmapped), "two tasks share a key"
    assert sorted(set(found) - set(expected)) == [], "tasks the rules do not call for"
    assert sorted(set(expected) - set(found)) == [], "tasks the rules call for are missing"
    for key, want in expected.items():
        task = found[key]
        assert task.reference_number == want.reference_number, key
        if want.deadline is not None:
            assert task.deadline == want.deadline, key
    for task in tasks:  # every task answers: who owns it, by when, under which payer reference
        assert task.owner and task.deadline and task.reference_number, task.kind
        assert task.owner == rules.owner(task.kind, task.payer_id)
        assert task.payer_said and task.action and task.evidence, task.kind
    return found


def check_documents_and_authorizations(night, oracle: dict) -> None:
    with night.db() as session:
        documents = {d.portal_document_id: d for d in session.exec(select(Document))}
        auths = {a.auth_number: a for a in session.exec(select(Authorization))}
    assert sorted(documents) == sorted(letter["letter_id"] for letter in oracle["letters"])
    for letter in oracle["letters"]:
        document = documents[letter["letter_id"]]
        assert document.doc_type == letter["type"], letter["letter_id"]
        assert document.claim_number == letter["claim_number"], letter["letter_id"]
        if letter["type"] in ("records_request", "authorization_decision"):
            assert document.reference_number == letter["reference_number"], letter["letter_id"]
        assert document.due_date == (date.fromisoformat(letter["due_date"]) if letter["due_date"] else None)
        stored = night.home / "documents"
        assert not Path(document.stored_path).is_absolute()  # relative to PAYERBOT_HOME
        assert stored in from_stored(document.stored_path).parents
        assert ".." not in document.stored_path
    assert len({d.sha256 for d in documents.values()}) == len(documents)
    assert sorted(auths) == sorted(a["auth_number"] for a in oracle["authorizations"])
    for expected in oracle["authorizations"]:
        auth = auths[expected["auth_number"]]
        assert (auth.status, auth.member_id, auth.service, auth.approved_units, auth.used_units) == (
            expected["status"], expected["member_id"], expected["service"], expected["approved_units"],
            expected["used_units"])
        assert sorted(auth.procedure_codes) == sorted(expected["procedure_codes"])
        assert (auth.provider, auth.facility) == (expected["provider"], expected["facility"])
        assert auth.start_date == (date.fromisoformat(expected["start_date"]) if expected["start_date"] else None)
        assert auth.end_date == (date.fromisoformat(expected["end_date"]) if expected["end_date"] else None)


def table_counts(night) -> dict[str, int]:
    with night.db() as session:
        return {table.__name__: len(session.exec(select(table)).all())
                for table in (StatusFinding, Task, TaskHistory, Document, Authorization)}


def records_pdf(path: Path) -> Path:
    """A small synthetic records packet (a real PDF) for the upload tests."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Office notes (synthetic) for the records request.\nSigned: Dr. Example")
    path.write_bytes(bytes(pdf.output()))
    return path
