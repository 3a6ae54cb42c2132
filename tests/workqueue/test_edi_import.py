"""A clearinghouse file's claims through the work queue: matched, unmatched, once only, and what the planner does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from bots.findings import ClaimStatusFinding, Provenance
from tests.workqueue.conftest import NOW, add_claim, status
from workqueue.edi_import import import_parsed_file, visits_saved_since
from workqueue.models import Claim, EdiFile, StatusFinding, Task
from workqueue.persist import persist_findings
from workqueue.planning import plan_night

FILE_TIME = NOW + timedelta(hours=2)


@dataclass
class FakeClaim:
    """The shape bots.edi.EdiClaim has (unit tests may use fakes; the e2e night uses real files)."""

    claim_number: str
    category: str | None
    transaction: str = "835"
    fields: dict = field(default_factory=dict)
    interchange_control_number: str = "000000901"
    segment_number: int = 12
    payer_name: str | None = "Meridian Health Plan"
    payer_identifier: str | None = "MHP01"
    sender_id: str = "CLEARHOUSE"
    raw_text: str = "CLP*C1*1*145*92.18**12*ICN1"
    observed_at: datetime = FILE_TIME

    def finding(self, payer_id: str) -> ClaimStatusFinding:
        prov = Provenance(payer_id=payer_id, account=f"edi:{self.sender_id}",
                          url=f"edi:era.835#ISA13={self.interchange_control_number};segment={self.segment_number}",
                          observed_at=self.observed_at, raw_text=self.raw_text)
        return ClaimStatusFinding(claim_number=self.claim_number, status_category=self.category,
                                  raw_status=f"{self.transaction} {self.category}", provenance=prov,
                                  **{"payer_claim_number": f"ICN-{self.claim_number}", **self.fields})


@dataclass
class FakeFile:
    claims: list[FakeClaim]
    file_name: str = "era.835"
    sha256: str = "ab" * 32
    interchanges: list[str] = field(default_factory=lambda: ["000000901"])


def _tasks(session) -> dict[tuple[str, str | None], Task]:
    return {(t.kind, t.claim_number): t for t in session.exec(select(Task)).all()}


def test_a_paid_and_a_denied_claim_become_the_same_tasks_a_portal_finding_makes(session):
    add_claim(session, "C1", expected="100.00")
    add_claim(session, "C2")
    report = import_parsed_file(session, FakeFile([
        FakeClaim("C1", "F1", fields={"paid": "60.00", "allowed": "70.00", "adjudication_date": date(2026, 2, 20)}),
        FakeClaim("C2", "F2", fields={"paid": "0.00", "adjudication_date": date(2026, 2, 20),
                                      "carc_codes": ["50"]})]))
    assert (report.matched, report.unmatched, report.findings_stored) == (2, 0, 2)
    tasks = _tasks(session)
    assert set(tasks) == {("underpayment_review", "C1"), ("denial_review", "C2")}
    assert tasks[("denial_review", "C2")].reference_number == "ICN-C2"
    assert tasks[("denial_review", "C2")].deadline == date(2026, 2, 20) + timedelta(days=90)
    stored = session.exec(select(StatusFinding)).all()
    assert {s.edi_file_id for s in stored} == {session.exec(select(EdiFile)).one().id}
    assert stored[0].finding["provenance"]["url"].startswith("edi:era.835#ISA13=000000901;segment=")
    # A file is not a portal check: the claim is finalized, its last portal check unchanged.
    c1 = session.get(Claim, "C1")
    assert c1.finalized and c1.last_checked_at is None and str(c1.paid) == "60.00"
    assert report.visits_saved == 2


def test_the_same_file_twice_changes_nothing_the_second_time(session):
    add_claim(session, "C1")
    parsed = FakeFile([FakeClaim("C1", "F2", fields={"adjudication_date": date(2026, 2, 20)}),
                       FakeClaim("C404", "F1", fields={"paid": "12.00", "check_number": "EFT77"})])
    first = import_parsed_file(session, parsed)
    session.commit()
    before = (len(session.exec(select(StatusFinding)).all()), len(session.exec(select(Task)).all()))
    second = import_parsed_file(session, parsed)
    assert first.already_imported_at is None and second.already_imported_at is not None
    assert "already imported" in second.line() and "nothing changed" in second.line()
    assert (len(session.exec(select(StatusFinding)).all()), len(session.exec(select(Task)).all())) == before
    assert len(session.exec(select(EdiFile)).all()) == 1


def test_a_claim_the_practice_does_not_know_becomes_one_unmatched_remittance_task(session):
    add_claim(session, "C1")
    report = import_parsed_file(session, FakeFile([
        FakeClaim("C1", "F1", fields={"paid": "90.00"}),
        FakeClaim("C999", "F1", fields={"paid": "42.50", "check_number": "CHK123", "payer_claim_number": "ICN9"})]))
    assert (report.matched, report.unmatched) == (1, 1)
    task = _tasks(session)[("unmatched_remittance", None)]
    assert task.owner == "payment-posting" and task.payer_id == "meridian"  # the file's other claim's payer
    assert "C999" in task.title and "$42.50" in task.title and "CHK123" in task.title
    assert task.reference_number == "ICN9" and task.deadline == date.today() + timedelta(days=5)
    assert session.get(Claim, "C999") is None  # not invented as a claim: a person decides
    # Another file naming the same unknown claim updates that task, it does not add one.
    import_parsed_file(session, FakeFile([FakeClaim("C999", "F1", fields={"paid": "42.50"})], sha256="cd" * 32))
    assert sum(t.kind == "unmatched_remittance" for t in session.exec(select(Task)).all()) == 1


def test_the_planner_skips_claims_a_file_finalized_and_visits_those_a_file_says_are_pending(session):
    checked = NOW - timedelta(hours=1)  # checked on the portal an hour before: not due by the clock
    for number in ("C1", "C2", "C3"):
        add_claim(session, number)
    persist_findings(session, [status(n, "P1", "In process", when=checked) for n in ("C1", "C2", "C3")])
    assert plan_night(session, now=NOW, payer_ids=["meridian"]).claims["meridian"] == []
    import_parsed_file(session, FakeFile([FakeClaim("C1", "F1", fields={"paid": "100.00"}),
                                          FakeClaim("C2", "R4", transaction="277")]))
    due = [q.claim_number for q in plan_night(session, now=NOW + timedelta(hours=3),
                                              payer_ids=["meridian"]).claims["meridian"]]
    assert due == ["C2"]  # C1 finalized by the 835; C2 asked for information: the portal has the detail
    # Once the portal was visited after the file, the claim waits for the clock again.
    persist_findings(session, [status("C2", "R4", "Documentation requested", when=FILE_TIME + timedelta(hours=1))])
    assert plan_night(session, now=NOW + timedelta(hours=3), payer_ids=["meridian"]).claims["meridian"] == []


def test_visits_saved_are_counted_per_file_since_a_moment(session):
    add_claim(session, "C1")
    add_claim(session, "C2", finalized=True)  # already final: the file saves no visit for it
    import_parsed_file(session, FakeFile([FakeClaim("C1", "F1", fields={"paid": "1.00"}),
                                          FakeClaim("C2", "F1", fields={"paid": "1.00"})]))
    assert visits_saved_since(session, None) == (1, 1)
    assert visits_saved_since(session, datetime.now(UTC) + timedelta(minutes=1)) == (0, 0)
