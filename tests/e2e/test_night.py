"""End to end: nights against the Meridian sandbox portal, checked against the portal's oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from tests.e2e.expected import authorization_tasks, claim_tasks
from workqueue.config import load_rules
from workqueue.models import Authorization, Claim, Document, StatusFinding, Task, TaskHistory

pytestmark = pytest.mark.e2e
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


def check_claims_against_oracle(night, oracle: dict) -> None:
    with night.db() as session:
        claims = {c.claim_number: c for c in session.exec(select(Claim).where(Claim.payer_id == oracle["payer_id"]))}
        latest = {}
        for finding in session.exec(select(StatusFinding).order_by(StatusFinding.id)):
            latest[finding.claim_number] = finding
    assert set(claims) == set(oracle["claims"])
    for number, expected in oracle["claims"].items():
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
        assert (stored in __import__("pathlib").Path(document.stored_path).parents)
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


def _counts(night) -> dict[str, int]:
    with night.db() as session:
        return {table.__name__: len(session.exec(select(table)).all())
                for table in (StatusFinding, Task, TaskHistory, Document, Authorization)}


def test_nights_against_meridian_match_the_oracle(night_factory) -> None:
    night = night_factory(portals=["meridian"])
    observed = datetime.now(UTC).date()

    # Night 1: everything is new.
    first = night.run()
    assert first["errors"] == [] and first["skipped"] == {}
    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    check_documents_and_authorizations(night, oracle)
    check_tasks_against_oracle(night, oracle, observed)
    assert night.stats("meridian")["counters"]["totp_verifications"] == 1
    after_first = _counts(night)

    # Night 2, re-checking every open claim: nothing new, and the saved session means no TOTP step.
    second = night.run(force=True)
    assert second["errors"] == []
    assert second["accounts"][0]["claims_checked"] > 0
    assert "session_reused" in second["accounts"][0]["events"] and "totp" not in second["accounts"][0]["events"]
    assert night.stats("meridian")["counters"]["totp_verifications"] == 1
    assert night.stats("meridian")["login_attempts"] == {"harbor.billing": 1}
    assert _counts(night) == after_first

    # Night 3: new letters arrive on the portal; exactly those are picked up.
    released = night.harness("meridian/release-letters")["released"]
    assert released
    night.run()
    oracle = night.oracle("meridian")
    with night.db() as session:
        new_documents = session.exec(select(Document.portal_document_id)).all()
    assert sorted(set(new_documents) - set(released)) == sorted(
        letter["letter_id"] for letter in oracle["letters"] if letter["letter_id"] not in released)
    assert len(new_documents) == after_first["Document"] + len(released)
    check_documents_and_authorizations(night, oracle)
    check_tasks_against_oracle(night, oracle, observed)

    # Night 4: the payer pays every claim pended for records; their tasks close, saying why.
    settled = night.harness("meridian/settle-pended")["settled"]
    assert settled
    night.run(force=True)
    oracle = night.oracle("meridian")
    check_claims_against_oracle(night, oracle)
    with night.db() as session:
        records = session.exec(select(Task).where(Task.kind == "records_request",
                                                  Task.claim_number.in_(settled))).all()
        assert records and all(t.status == "done" for t in records)
        for task in records:
            notes = [h.note or "" for h in session.exec(select(TaskHistory).where(TaskHistory.task_id == task.id))]
            assert any("F1" in note for note in notes), notes
    check_tasks_against_oracle(night, oracle, observed)
