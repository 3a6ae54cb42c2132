"""Claim status rules: each task kind raised when it should, not when it should not, closed when resolved."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import func, select

from tests.workqueue.conftest import NOW, add_claim, status
from workqueue.config import load_rules
from workqueue.models import Claim, StatusFinding, Task, TaskHistory
from workqueue.persist import persist_findings
from workqueue.rules import claim_status_rules
from workqueue.tasks import list_tasks

TODAY = NOW.date()


def _tasks(session, kind=None) -> list[Task]:
    return list_tasks(session, kind=kind, status="all")


def test_denial_review_deadline_from_adjudication_and_payer_window(session):
    add_claim(session, "C1", payer="northwind")
    persist_findings(session, [status("C1", "F2", "Denied", payer="northwind", adjudication_date=date(2026, 2, 1),
                                      payer_claim_number="NWM1", carc_codes=["50"], rarc_codes=["N130"])])
    [task] = _tasks(session)
    assert (task.kind, task.owner, task.priority) == ("denial_review", "denials-team", "high")
    assert task.deadline == date(2026, 2, 1) + timedelta(days=120)  # northwind's appeal window
    assert task.reference_number == "NWM1"
    assert "Denied" in task.payer_said and "CARC 50" in task.payer_said
    assert task.action and task.evidence[0]["screenshot_path"] == "/evidence/northwind.png"


@pytest.mark.parametrize("category", ["F1", "P1", "A2", "F4"])
def test_no_denial_review_for_other_statuses(session, category):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", category, "x", paid=Decimal("100.00"), allowed=Decimal("100.00"))])
    assert not _tasks(session, "denial_review")


def test_denial_closed_when_claim_later_paid(session):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", "F2", "Denied", adjudication_date=date(2026, 2, 1))])
    later = NOW + timedelta(days=1)
    persist_findings(session, [status("C1", "F4", "No payment", when=later)])
    assert _tasks(session, "denial_review")[0].status == "open"  # F4 pays nothing: still open
    persist_findings(session, [status("C1", "F1", "Paid", when=later + timedelta(days=1), paid=Decimal("100.00"),
                                      allowed=Decimal("100.00"))])
    task = _tasks(session, "denial_review")[0]
    assert task.status == "done" and "F1" in task.closed_reason


@pytest.mark.parametrize("category", ["P3", "R4", "R0"])
def test_records_request_from_pended_or_request_status(session, category):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", category, "Pended - records", pending_reason="office notes")])
    [task] = _tasks(session)
    assert task.kind == "records_request" and task.owner == "records-team"
    assert task.deadline == TODAY + timedelta(days=30)
    assert task.reference_number == "ICN-C1"
    assert "office notes" in task.payer_said


def test_pended_then_paid_closes_records_request_with_history(session):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", "P3", "Pended")])
    persist_findings(session, [status("C1", "F1", "Paid", when=NOW + timedelta(days=3), paid=Decimal("100.00"),
                                      allowed=Decimal("100.00"))])
    task = _tasks(session, "records_request")[0]
    assert task.status == "done" and task.closed_by == "bot"
    closing = session.exec(select(TaskHistory).where(TaskHistory.task_id == task.id,
                                                     TaskHistory.action == "closed")).one()
    assert closing.note == "claim now F1 (Paid)" and closing.old == "open" and closing.new == "done"


@pytest.mark.parametrize("category", ["A3", "A6", "A7", "A8"])
def test_claim_rejected(session, category):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", category, "Rejected")])
    [task] = _tasks(session)
    assert task.kind == "claim_rejected" and task.deadline == TODAY + timedelta(days=7)
    assert task.owner == "billing-team"


def test_claim_rejected_payer_specific_owner_and_closing(session):
    add_claim(session, "C1", payer="claimbridge")
    persist_findings(session, [status("C1", "A7", "Rejected", payer="claimbridge")])
    assert _tasks(session)[0].owner == "clearinghouse-team"  # rules.toml [owners.payers.claimbridge]
    persist_findings(session, [status("C1", "A1", "Received", payer="claimbridge", when=NOW + timedelta(days=1))])
    assert _tasks(session)[0].status == "open"  # A1 is not one of A2/P*/F*
    persist_findings(session, [status("C1", "A2", "Accepted", payer="claimbridge", when=NOW + timedelta(days=2))])
    assert _tasks(session)[0].status == "done"


@pytest.mark.parametrize("category", ["D0", "A4"])
def test_claim_not_found_uses_the_inquiry_reference_and_closes_when_found(session, category):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", category, "No claim found", payer_claim_number=None,
                                      reference_number="SR12345678")])
    [task] = _tasks(session)
    assert task.kind == "claim_not_found" and task.reference_number == "SR12345678"
    assert task.deadline == TODAY + timedelta(days=7)
    persist_findings(session, [status("C1", "P1", "In process", when=NOW + timedelta(days=1))])
    assert _tasks(session)[0].status == "done"


@pytest.mark.parametrize(("allowed", "paid", "pr", "underpaid"), [
    ("98.99", "98.99", None, True),      # short by 1.01: more than the $1.00 tolerance
    ("99.00", "99.00", None, False),     # short by exactly the tolerance: not an underpayment
    ("100.00", "70.00", "30.00", False),  # allowed known: copay is not a shortfall
    (None, "60.00", "30.00", True),      # allowed unknown: paid + patient responsibility = 90
    (None, "70.00", "30.00", False),
])
def test_underpayment_boundary(session, allowed, paid, pr, underpaid):
    add_claim(session, "C1", expected="100.00")
    money = {k: Decimal(v) for k, v in (("allowed", allowed), ("paid", paid), ("patient_responsibility", pr)) if v}
    persist_findings(session, [status("C1", "F1", "Paid", adjudication_date=date(2026, 2, 10), **money)])
    tasks = _tasks(session, "underpayment_review")
    assert bool(tasks) is underpaid
    if underpaid:
        assert tasks[0].owner == "payment-posting"
        assert tasks[0].deadline == date(2026, 2, 10) + timedelta(days=90)
        assert tasks[0].reference_number == "ICN-C1"


def test_underpayment_closed_when_later_finding_reaches_expected(session):
    add_claim(session, "C1", expected="100.00")
    persist_findings(session, [status("C1", "F1", "Paid", allowed=Decimal("60.00"), paid=Decimal("60.00"))])
    persist_findings(session, [status("C1", "F3", "Adjusted", allowed=Decimal("100.00"), paid=Decimal("100.00"),
                                      when=NOW + timedelta(days=5))])
    task = _tasks(session, "underpayment_review")[0]
    assert task.status == "done" and "reached" in task.closed_reason


def test_unknown_wording_from_two_claims_makes_one_operator_task(session):
    add_claim(session, "C1")
    add_claim(session, "C2")
    persist_findings(session, [status("C1", None, "Awaiting other insurance information"),
                               status("C2", None, "AWAITING  other insurance information")])
    [task] = _tasks(session)
    assert task.kind == "unmapped_status" and task.owner == "bot-operators"
    assert [e["claim_number"] for e in task.evidence] == ["C1", "C2"]
    assert task.reference_number == "ICN-C1"
    stored = session.exec(select(StatusFinding).where(StatusFinding.claim_number == "C1")).one()
    assert stored.raw_status == "Awaiting other insurance information" and stored.status_category is None
    # once the wording is mapped, both claims leave the task and it closes itself
    later = NOW + timedelta(days=1)
    persist_findings(session, [status("C1", "P5", "Awaiting other insurance information", when=later)])
    assert _tasks(session)[0].status == "open"
    persist_findings(session, [status("C2", "P5", "Awaiting other insurance information", when=later)])
    assert _tasks(session, "unmapped_status")[0].status == "done"


def _counts(session) -> list[int]:
    return [session.exec(select(func.count()).select_from(t)).one() for t in (StatusFinding, Task, TaskHistory)]


def test_same_findings_twice_change_nothing(session):
    add_claim(session, "C1")
    add_claim(session, "C2")
    batch = [status("C1", "F2", "Denied"), status("C2", "P3", "Pended")]
    first = persist_findings(session, batch)
    counts = _counts(session)
    again = persist_findings(session, batch)
    # the same wording read again the next night: no new finding row either, only the check time moves
    next_night = persist_findings(session, [status("C1", "F2", "Denied", when=NOW + timedelta(days=1)),
                                            status("C2", "P3", "Pended", when=NOW + timedelta(days=1))])
    assert (first.findings_stored, first.tasks_created) == (2, 2)
    assert (again.findings_stored, again.findings_unchanged, again.tasks_created, again.tasks_updated) == (0, 2, 0, 0)
    assert (next_night.findings_stored, next_night.tasks_updated) == (0, 0)
    assert counts == _counts(session)
    assert session.get(Claim, "C2").last_checked_at == NOW + timedelta(days=1)


def test_person_closed_task_is_not_reopened_by_the_same_facts(session):
    from workqueue.tasks import close
    add_claim(session, "C1")
    persist_findings(session, [status("C1", "F2", "Denied")])
    task = _tasks(session)[0]
    close(session, task.id, actor="dana", note="appeal filed by fax")
    persist_findings(session, [status("C1", "F2", "Denied", when=NOW + timedelta(days=1), carc_codes=["50"])])
    assert session.get(Task, task.id).status == "done"


def test_rules_are_pure_functions_of_claim_and_finding(session):
    claim = add_claim(session, "C1", expected="100.00")
    outcome = claim_status_rules(claim, status("C1", "F1", "Paid", allowed=Decimal("100.00"),
                                               paid=Decimal("100.00")), load_rules())
    assert outcome.wanted == []
    assert {r.dedupe_key.split(":")[0] for r in outcome.resolved} == {
        "denial_review", "records_request", "claim_rejected", "claim_not_found", "underpayment_review"}
