"""Letters: stored once under a safe name, classified, linked, and turned into the right task changes."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import func, select

from bots.evidence import from_stored
from bots.findings import CorrespondenceFinding
from sandbox.pdf import letter_pdf
from sandbox.world import Letter
from tests.workqueue.conftest import NOW, add_claim, prov, status
from workqueue.models import Document, Task, TaskHistory
from workqueue.persist import persist_findings
from workqueue.tasks import list_tasks

HEADER = ["Patient: Avery Ashdown", "Member ID: MRD123456789", "Claim Number: MHP26001000001",
          "Patient Account: C1", "Date of Service: 01/10/2026"]


def _letter(tmp_path: Path, letter_id: str, title: str, body: list[str], file_name: str,
            letter_date: date = date(2026, 2, 27)) -> CorrespondenceFinding:
    letter = Letter(letter_id=letter_id, letter_type="x", letter_date=letter_date, title=title, file_name=file_name,
                    claim_number=None, payer_claim_number=None, reference_number=None, due_date=None, body=body)
    data = letter_pdf(letter, "Meridian Health Plan")
    path = tmp_path / f"download-{letter_id}.tmp"
    path.write_bytes(data)
    return CorrespondenceFinding(portal_document_id=letter_id, title=title, letter_date=letter_date,
                                 suggested_file_name=file_name, file_path=str(path),
                                 sha256=hashlib.sha256(data).hexdigest(), provenance=prov())


def _records_letter(tmp_path, letter_id="MHP-L00001", account="C1"):
    body = ["REQUEST FOR MEDICAL RECORDS", *[h.replace("C1", account) for h in HEADER],
            "Document Control Number: DCN4455667788", "Please send the requested records by 03/29/2026.",
            "Records requested: office notes for date of service.",
            "Include the document control number on the cover sheet of your response."]
    return _letter(tmp_path, letter_id, "Request for Medical Records", body, "../../Records Request.pdf")


def test_records_letter_sets_deadline_and_dcn_on_the_records_task(session, tmp_path, home):
    add_claim(session, "C1", payer_claim_number="MHP26001000001")
    persist_findings(session, [status("C1", "P3", "Pended for records")])
    task = list_tasks(session)[0]
    assert task.deadline == NOW.date() + timedelta(days=30) and task.reference_number == "ICN-C1"
    report = persist_findings(session, [_records_letter(tmp_path)])
    assert (report.documents_stored, report.tasks_created, report.tasks_updated) == (1, 0, 1)
    task = session.get(Task, task.id)
    assert task.deadline == date(2026, 3, 29)
    assert task.reference_number == "DCN4455667788"
    notes = session.exec(select(TaskHistory.field, TaskHistory.note).where(TaskHistory.task_id == task.id,
                                                                           TaskHistory.action == "update")).all()
    fields = {field for field, _ in notes}
    assert {"deadline", "reference_number"} <= fields
    assert all("MHP-L00001" in note for field, note in notes if field in ("deadline", "reference_number"))
    doc = session.exec(select(Document)).one()
    assert (doc.doc_type, doc.claim_number, doc.reference_number, doc.due_date) == (
        "records_request", "C1", "DCN4455667788", date(2026, 3, 29))
    assert not Path(doc.stored_path).is_absolute()  # relative to PAYERBOT_HOME: moving the folder keeps links
    stored = from_stored(doc.stored_path)
    assert stored.is_file() and stored.is_relative_to(home / "documents" / "meridian")
    assert stored.name.startswith(doc.sha256[:16]) and ".." not in stored.name
    # a status-based estimate read later does not undo what the letter said
    persist_findings(session, [status("C1", "R4", "Documentation requested", when=NOW + timedelta(days=1))])
    assert session.get(Task, task.id).deadline == date(2026, 3, 29)


def test_records_letter_alone_creates_the_task(session, tmp_path):
    add_claim(session, "C1")
    persist_findings(session, [_records_letter(tmp_path)])
    [task] = list_tasks(session)
    assert (task.kind, task.claim_number, task.reference_number, task.deadline) == (
        "records_request", "C1", "DCN4455667788", date(2026, 3, 29))
    assert task.evidence[0]["portal_document_id"] == "MHP-L00001"


def test_same_letter_twice_changes_nothing(session, tmp_path, home):
    add_claim(session, "C1")
    finding = _records_letter(tmp_path)
    persist_findings(session, [finding])
    counts = [session.exec(select(func.count()).select_from(t)).one() for t in (Document, Task, TaskHistory)]
    again = persist_findings(session, [finding])
    assert (again.documents_known, again.documents_stored, again.tasks_updated) == (1, 0, 0)
    assert counts == [session.exec(select(func.count()).select_from(t)).one() for t in (Document, Task, TaskHistory)]
    assert len(list((home / "documents" / "meridian").iterdir())) == 1


def test_denial_letter_sets_the_appeal_deadline(session, tmp_path):
    add_claim(session, "C1", payer_claim_number="MHP26001000001")
    persist_findings(session, [status("C1", "F2", "Denied", adjudication_date=date(2026, 2, 1))])
    task = list_tasks(session)[0]
    assert task.deadline == date(2026, 5, 2)
    body = ["NOTICE OF CLAIM DENIAL", *HEADER, "Reason: Non-covered charge(s).",
            "You may appeal this decision. Appeals must be received by 04/30/2026."]
    persist_findings(session, [_letter(tmp_path, "MHP-L00002", "Claim Denial Notice", body, "Denial (1).pdf")])
    assert session.get(Task, task.id).deadline == date(2026, 4, 30)
    change = session.exec(select(TaskHistory).where(TaskHistory.task_id == task.id,
                                                    TaskHistory.field == "deadline")).one()
    assert (change.old, change.new) == ("2026-05-02", "2026-04-30")


def test_other_letter_and_unlinked_records_letter_go_to_review(session, tmp_path):
    add_claim(session, "C1")
    bulletin = _letter(tmp_path, "MHP-L00003", "Provider Bulletin",
                       ["PROVIDER BULLETIN", "No action is required on any claim."], "bulletin.pdf")
    # a records request for an account and a claim number the inventory does not have
    body = [line.replace("MHP26001000001", "MHP0000") for line in ["REQUEST FOR MEDICAL RECORDS", *HEADER]]
    stray = _letter(tmp_path, "MHP-L00004", "Request for Medical Records",
                    [b.replace("C1", "C999") for b in body], "r.pdf")
    persist_findings(session, [bulletin, stray])
    tasks = list_tasks(session)
    assert sorted((t.kind, t.reference_number) for t in tasks) == [
        ("correspondence_review", "MHP-L00003"), ("correspondence_review", "MHP-L00004")]
    assert all(t.deadline == NOW.date() + timedelta(days=5) for t in tasks)


def test_remittance_is_stored_and_linked_without_a_task(session, tmp_path):
    add_claim(session, "C1")
    body = ["EXPLANATION OF BENEFITS - REMITTANCE ADVICE", *HEADER, "Paid: $92.18"]
    report = persist_findings(session, [_letter(tmp_path, "MHP-L00005", "EOB", body, "EOB.pdf")])
    assert report.documents_stored == 1 and not list_tasks(session)
    doc = session.exec(select(Document)).one()
    assert (doc.doc_type, doc.claim_number) == ("remittance", "C1")
