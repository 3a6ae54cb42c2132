"""Portal problems, night planning and the records upload life cycle."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fpdf import FPDF
from sqlmodel import select

from bots.findings import PortalProblem, UploadConfirmation
from tests.workqueue.conftest import NOW, add_claim, prov, status
from workqueue.accounts import account_history, clear_account
from workqueue.models import Claim, Document, RecordsPacket, Task
from workqueue.persist import persist_findings
from workqueue.planning import mark_uploading, plan_night
from workqueue.tasks import (
    attach_packet,
    close,
    history,
    list_tasks,
    queue_upload,
    task_as_dict,
    worklist_summary,
)


def problem(error_type: str, when=NOW, **kw) -> PortalProblem:
    return PortalProblem(error_type=error_type, message="the portal refused the sign-in", provenance=prov(when=when),
                         **kw)


def _pdf(tmp_path: Path) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 10, "Office notes (synthetic)")
    path = tmp_path / "notes.pdf"
    path.write_bytes(bytes(pdf.output()))
    return path


@pytest.fixture
def queued(session, tmp_path) -> tuple[Task, RecordsPacket]:
    """A records task with a queued packet."""
    add_claim(session, "C1", payer_claim_number="MHP1")
    persist_findings(session, [status("C1", "P3", "Pended", payer_claim_number="MHP1")])
    task = list_tasks(session)[0]
    packet = attach_packet(session, task.id, _pdf(tmp_path))
    queue_upload(session, task.id)
    return task, packet


@pytest.mark.parametrize(("error", "kind"), [("LoginFailed", "login_failed"), ("AccountLocked", "account_locked"),
                                             ("PortalChanged", "portal_changed"),
                                             ("DownloadTooLarge", "download_too_large"), ("Weird", "portal_error")])
def test_problem_becomes_one_operator_task(session, error, kind):
    report = persist_findings(session, [problem(error), problem(error, when=NOW + timedelta(minutes=5))], run_id=42)
    [task] = list_tasks(session)
    assert (task.kind, task.owner, task.reference_number) == (kind, "bot-operators", "bot-run-42")
    assert task.deadline == NOW.date() + timedelta(days=1)
    assert task.evidence[0]["screenshot_path"] == "/evidence/meridian.png"
    assert "the portal refused the sign-in" in task.payer_said and report.problems == 2


def test_login_problem_blocks_the_account_until_an_operator_clears_it(session):
    add_claim(session, "C1")
    add_claim(session, "N1", payer="northwind")
    persist_findings(session, [problem("LoginFailed", during_login=True)], run_id=1)
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert set(plan.blocked) == {("meridian", "main")} and "login_failed" in plan.blocked[("meridian", "main")]
    assert [q.claim_number for q in plan.claims["northwind"]] == ["N1"]
    [task] = list_tasks(session)
    # closing the task alone would let the bot log in again: only clearing the block does
    with pytest.raises(PermissionError, match="accounts clear meridian/main"):
        close(session, task.id, actor="ops", note="password reset")
    assert clear_account(session, "meridian", "main", actor="ops", note="password reset") == [task.id]
    assert session.get(Task, task.id).status == "done"
    assert [h.action for h in account_history(session, "meridian", "main")] == ["blocked", "cleared"]
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert plan.blocked == {} and [q.claim_number for q in plan.claims["meridian"]] == ["C1"]
    # a new failure after the operator cleared it reopens the same task and blocks again
    persist_findings(session, [problem("LoginFailed", during_login=True, when=NOW + timedelta(days=1))], run_id=2)
    [task] = list_tasks(session)
    assert task.status == "open" and task.reference_number == "bot-run-2"
    assert set(plan_night(session, now=NOW + timedelta(days=2)).blocked) == {("meridian", "main")}


def test_a_letter_over_the_download_cap_blocks_nothing(session):
    add_claim(session, "C1")
    persist_findings(session, [problem("DownloadTooLarge")], run_id=3)
    assert [t.kind for t in list_tasks(session)] == ["download_too_large"]
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert plan.blocked == {} and [q.claim_number for q in plan.claims["meridian"]] == ["C1"]


def test_problem_after_login_does_not_block(session):
    add_claim(session, "C1")
    persist_findings(session, [problem("CaptchaChallenge")], run_id=1)  # a captcha mid-night, not at login
    assert plan_night(session, now=NOW + timedelta(days=1)).blocked == {}
    assert [t.kind for t in list_tasks(session)] == ["captcha_challenge"]


def test_plan_rechecks_only_stale_unfinalized_claims(session):
    for number in ("C1", "C2", "C3", "C4"):
        add_claim(session, number)
    persist_findings(session, [status("C1", "P1", "In process"), status("C2", "F1", "Paid")])
    soon = plan_night(session, now=NOW + timedelta(hours=10))
    assert [q.claim_number for q in soon.claims["meridian"]] == ["C3", "C4"]
    forced = plan_night(session, now=NOW + timedelta(hours=10), force=True)
    assert [q.claim_number for q in forced.claims["meridian"]] == ["C1", "C3", "C4"]  # never the paid C2
    later = plan_night(session, now=NOW + timedelta(hours=21))
    assert [q.claim_number for q in later.claims["meridian"]] == ["C1", "C3", "C4"]
    query = later.claims["meridian"][0]
    assert (query.member_id, query.payer_claim_number) == ("MRD123456789", "ICN-C1")
    assert later.correspondence_since["meridian"] is None


def test_plan_letters_since_latest_minus_overlap(session):
    from datetime import date
    session.add(Document(sha256="a" * 64, payer_id="meridian", portal_document_id="L1", title="t",
                         letter_date=date(2026, 2, 20), stored_path="/x", original_file_name="x.pdf"))
    plan = plan_night(session, now=NOW)
    assert plan.correspondence_since["meridian"] == date(2026, 2, 13)
    assert plan.known_document_ids["meridian"] == {"L1"}


def test_upload_confirmation_waits_on_payer(session, queued, home):
    task, packet = queued
    plan = plan_night(session, now=NOW)
    [planned] = plan.uploads["meridian"]
    assert (planned.packet_id, planned.payer_claim_number, planned.claim_number) == (packet.packet_id, "MHP1", "C1")
    assert Path(planned.file_path).is_relative_to(home / "packets")
    mark_uploading(session, [packet.packet_id])
    confirmation = UploadConfirmation(packet_id=packet.packet_id, claim_number="C1", confirmation_number="UPL-778899",
                                      provenance=prov(when=NOW + timedelta(hours=1)))
    report = persist_findings(session, [confirmation])
    again = persist_findings(session, [confirmation])
    task = session.get(Task, task.id)
    assert report.uploads_confirmed == 1 and again.uploads_confirmed == 0
    assert task.status == "waiting_on_payer"
    assert task.follow_up_date == NOW.date() + timedelta(days=14)
    assert task.evidence[-1]["confirmation_number"] == "UPL-778899"
    data = task_as_dict(task, session)
    assert data["uploaded_document"]["confirmation_number"] == "UPL-778899"
    assert data["next_check_date"] == (NOW.date() + timedelta(days=14)).isoformat()
    assert session.get(RecordsPacket, packet.packet_id).status == "uploaded"
    assert plan_night(session, now=NOW + timedelta(days=1)).uploads["meridian"] == []


def test_three_upload_problems_fail_the_packet(session, queued):
    task, packet = queued
    for attempt in range(1, 4):
        mark_uploading(session, [packet.packet_id])
        failure = problem("PortalUnavailable", when=NOW + timedelta(hours=attempt), packet_id=packet.packet_id,
                          claim_number="C1")
        persist_findings(session, [failure])
        persist_findings(session, [failure])  # the same problem twice counts once
        row = session.get(RecordsPacket, packet.packet_id)
        assert row.attempts == attempt
        assert row.status == ("failed" if attempt == 3 else "queued")
    [op] = list_tasks(session, kind="upload_failed")
    assert op.owner == "bot-operators" and op.claim_number == "C1" and op.reference_number == packet.packet_id
    assert not list_tasks(session, kind="portal_unavailable")  # the packet task says it all


def test_packet_left_uploading_is_reconciled_not_uploaded_again(session, queued):
    task, packet = queued
    mark_uploading(session, [packet.packet_id])  # ... and the run crashed here
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert plan.uploads["meridian"] == [] and plan.unconfirmed_packets == [packet.packet_id]
    assert [p.packet_id for p in plan.reconcile["meridian"]] == [packet.packet_id]
    assert session.get(RecordsPacket, packet.packet_id).status == "unconfirmed"
    # until the portal's history is read, it stays to be reconciled and is never re-queued by hand
    plan = plan_night(session, now=NOW + timedelta(days=2))
    assert plan.uploads["meridian"] == [] and len(plan.reconcile["meridian"]) == 1
    with pytest.raises(LookupError, match="reconciled"):
        queue_upload(session, task.id)
    found = UploadConfirmation(packet_id=packet.packet_id, claim_number="C1", confirmation_number="MHPU000001",
                               reconciled=True, provenance=prov(when=NOW + timedelta(days=2)))
    assert persist_findings(session, [found]).uploads_confirmed == 1
    assert session.get(RecordsPacket, packet.packet_id).status == "uploaded"
    assert "submission history" in session.get(Task, task.id).evidence[-1]["source"] + \
        " ".join(h.note or "" for h in history(session, task.id))


def test_failed_packet_requeued_is_reconciled_first(session, queued):
    task, packet = queued
    for attempt in range(1, 4):
        mark_uploading(session, [packet.packet_id])
        persist_findings(session, [problem("PortalUnavailable", when=NOW + timedelta(hours=attempt),
                                           packet_id=packet.packet_id, claim_number="C1")])
    assert session.get(RecordsPacket, packet.packet_id).status == "failed"
    again = queue_upload(session, task.id, actor="biller")
    assert again.status == "unconfirmed"  # it reached the portal before: the history decides, not a blind resend
    plan = plan_night(session, now=NOW + timedelta(days=1))
    assert plan.uploads["meridian"] == [] and [p.packet_id for p in plan.reconcile["meridian"]] == [packet.packet_id]


def test_attach_refuses_non_pdf_and_wrong_kind(session, tmp_path):
    add_claim(session, "C1")
    persist_findings(session, [status("C1", "P3", "Pended"), status("C1", "F2", "Denied", when=NOW + timedelta(1))])
    records = list_tasks(session, kind="records_request", status="all")[0]
    denial = list_tasks(session, kind="denial_review")[0]
    fake = tmp_path / "notes.pdf"
    fake.write_text("not a pdf")
    with pytest.raises(ValueError, match="not a PDF"):
        attach_packet(session, records.id, fake)
    with pytest.raises(ValueError, match="records_request"):
        attach_packet(session, denial.id, _pdf(tmp_path))
    assert worklist_summary(session) == [("denial_review", "denials-team", 1)]
    assert session.get(Claim, "C1").finalized
    assert session.exec(select(RecordsPacket)).all() == []
