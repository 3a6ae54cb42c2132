"""Letters: stored once under a safe name, classified, linked, and turned into the right task changes."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from bots.evidence import from_stored
from bots.findings import CorrespondenceFinding
from sandbox.pdf import letter_pdf
from sandbox.world import Letter
from tests.workqueue.conftest import NOW, add_claim, prov, status
from workqueue.letters import (
    LETTER_TYPES,
    LetterFacts,
    LetterWordingError,
    classify,
    default_wording,
    load_letter_wording,
    read_letter,
    wording_for_payer,
)
from workqueue.models import Document, Task, TaskHistory
from workqueue.paths import downloads_dir
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


# ------------------------------------------------------------------------------- letter wording per payer

ACME_WORDING = r"""
date_formats = ["%B %d, %Y"]

[types.denial]
phrases = ["Notice of adverse benefit determination"]

[types.appeal_decision]
titles = ["Reconsideration outcome"]

[fields]
document_control_number = ['Document Control Number \(DCN\):\s*([A-Z0-9]+)']

[dates]
due_date = ['Response due date:\s*(\d{1,2}/\d{1,2}/\d{4})']
appeal_deadline = ['request an appeal no later than\s+([A-Za-z]+ \d{1,2}, \d{4})']
"""

ACME_RECORDS = "\n".join([
    "ADDITIONAL DOCUMENTATION REQUEST", *HEADER, "Document Control Number (DCN): DCN778899",
    "Response due date: 04/15/2026", "Send office notes for the date of service."])
ACME_DENIAL = "\n".join([
    "NOTICE OF ADVERSE BENEFIT DETERMINATION", *HEADER, "Reason: Not medically necessary.",
    "You may request an appeal no later than April 30, 2026."])


def _payer_folder(tmp_path: Path, wording: str | None, name: str = "acme") -> Path:
    folder = tmp_path / "payers" / name
    folder.mkdir(parents=True)
    if wording is not None:
        (folder / "letters.toml").write_text(wording, encoding="utf-8")
    return folder


def test_payer_wording_reads_its_dcn_due_date_and_denial_heading(tmp_path):
    wording = load_letter_wording(_payer_folder(tmp_path, ACME_WORDING))
    records = read_letter(ACME_RECORDS, "Documentation request", wording)
    assert records == LetterFacts(doc_type="records_request", payer_claim_number="MHP26001000001",
                                  patient_account="C1", document_control_number="DCN778899",
                                  due_date=date(2026, 4, 15))
    denial = read_letter(ACME_DENIAL, "Letter", wording)
    assert (denial.doc_type, denial.due_date, denial.payer_claim_number) == (
        "denial", date(2026, 4, 30), "MHP26001000001")
    # the defaults still hold for this payer: its entries come on top of them
    default_letter = read_letter("NOTICE OF CLAIM DENIAL\nDocument Control Number: DCN1\n"
                                 "Appeals must be received by 05/01/2026.", "", wording)
    assert (default_letter.doc_type, default_letter.document_control_number, default_letter.due_date) == (
        "denial", "DCN1", date(2026, 5, 1))


def test_the_same_letters_under_the_defaults_miss_the_payer_wording(tmp_path):
    records = read_letter(ACME_RECORDS, "Documentation request")
    assert records.doc_type == "records_request"
    assert (records.document_control_number, records.due_date) == (None, None)
    assert read_letter(ACME_DENIAL, "Letter").doc_type == "other"
    # a payer folder without letters.toml reads with exactly the defaults
    plain = load_letter_wording(_payer_folder(tmp_path, None, "plain"))
    assert plain is default_wording()
    assert read_letter(ACME_DENIAL, "Letter", plain) == read_letter(ACME_DENIAL, "Letter")


def test_declared_title_decides_before_the_text(tmp_path):
    wording = load_letter_wording(_payer_folder(tmp_path, ACME_WORDING))
    text = "Your claim denial was reviewed. The original decision is upheld.\nClaim Number: X1"
    assert classify(text, "Reconsideration Outcome", wording) == "appeal_decision"
    assert classify(text, "Reconsideration Outcome") == "denial"  # defaults: the text's phrase decides
    assert classify("Nothing we know.", "Provider Bulletin", wording) == "other"


def test_replace_drops_the_default_patterns_of_that_field_only(tmp_path):
    wording = load_letter_wording(_payer_folder(tmp_path, """
[fields.payer_claim_number]
patterns = ['ICN:\\s*([A-Z0-9]+)']
replace = true

[types.remittance]
phrases = ["payment summary"]
replace = true
"""))
    text = "PAYMENT SUMMARY\nClaim Number: OLD1\nICN: NEW2\nPatient Account: C7"
    facts = read_letter(text, "", wording)
    assert (facts.doc_type, facts.payer_claim_number, facts.patient_account) == ("remittance", "NEW2", "C7")
    assert read_letter("Claim Number: OLD1", "", wording).payer_claim_number is None
    assert classify("EXPLANATION OF BENEFITS", "", wording) == "other"  # its phrases were replaced
    assert read_letter(text).payer_claim_number == "OLD1"


def test_wording_is_cached_per_folder_and_reread_when_the_file_changes(tmp_path):
    folder = _payer_folder(tmp_path, ACME_WORDING)
    first = load_letter_wording(folder)
    assert load_letter_wording(folder) is first
    assert load_letter_wording(_payer_folder(tmp_path, ACME_WORDING, "other")) is not first
    (folder / "letters.toml").write_text('[types.denial]\nphrases = ["we regret to inform you"]\n', encoding="utf-8")
    again = load_letter_wording(folder)
    assert again is not first
    assert classify("We regret to inform you", "", again) == "denial"
    assert classify(ACME_DENIAL, "", again) == "other"


BAD_WORDING = [
    ("[types.denial\nphrases = []", "not valid TOML"),
    ("colours = ['red']", "colours: unknown key"),
    ("[types.refund]\nphrases = ['refund']", "types.refund: unknown key"),
    ("[types.denial]\nphrase = ['x']", "types.denial.phrase: unknown key"),
    ("[types.denial]\nphrases = 'notice'", "types.denial.phrases: must be a list"),
    ("[types.denial]\nphrases = ['ok', '  ']", "types.denial.phrases[1]: must be a non-empty string"),
    ("[types.denial]\ndeadline = 'tomorrow'", "types.denial.deadline: unknown date 'tomorrow'"),
    ("[types.denial]\nreplace = 'yes'", "types.denial.replace: must be true or false"),
    ("[fields]\nmember_id = ['Member ID: (\\w+)']", "fields.member_id: unknown key"),
    ("[fields]\ndocument_control_number = ['DCN: ([A-Z']", "fields.document_control_number[0]: regex"),
    ("[fields]\ndocument_control_number = ['DCN: [A-Z0-9]+']",
     "fields.document_control_number[0]: regex 'DCN: [A-Z0-9]+' must have exactly one group"),
    ("[dates]\ndue_date = ['ok (\\d+)', 'due (\\d+)/(\\d+)']", "dates.due_date[1]: regex"),
    ("[dates.due_date]\nreplace = true", "dates.due_date: needs patterns"),
    ("[dates.due_date]\npatterns = ['due (\\S+)']\nreplace = 1", "dates.due_date.replace: must be true or false"),
    ("date_formats = ['%m/%Y']", "date_formats[0]: date format '%m/%Y' does not give day"),
    ("fields = ['x']", "fields: must be a table"),
]


@pytest.mark.parametrize(("content", "message"), BAD_WORDING)
def test_a_broken_letters_file_is_an_error_naming_the_file_and_the_key(tmp_path, content, message):
    folder = _payer_folder(tmp_path, content)
    with pytest.raises(LetterWordingError) as caught:
        load_letter_wording(folder)
    text = str(caught.value)
    assert text.startswith(str((folder / "letters.toml").resolve()) + ": ")
    assert message in text
    with pytest.raises(LetterWordingError):  # an error is not cached as "use the defaults"
        load_letter_wording(folder)


def test_letters_file_not_utf8_and_missing_folder_are_errors(tmp_path):
    folder = _payer_folder(tmp_path, None)
    (folder / "letters.toml").write_bytes(b"[types.denial]\nphrases = ['\xff']\n")
    with pytest.raises(LetterWordingError, match="letters.toml: not UTF-8"):
        load_letter_wording(folder)
    with pytest.raises(LetterWordingError, match="no such payer folder"):
        load_letter_wording(tmp_path / "nowhere")


def test_defaults_cover_every_letter_type_and_builtin_payers_read_with_them():
    defaults = default_wording()
    assert [t.name for t in defaults.types] == list(LETTER_TYPES)
    assert {t.name: t.deadline for t in defaults.types if t.deadline} == {
        "records_request": "due_date", "denial": "appeal_deadline"}
    for payer_id in ("meridian", "northwind", "claimbridge"):  # the sandbox letters use the shared wording
        assert wording_for_payer(payer_id) is defaults


@pytest.fixture
def acme_meridian(tmp_path, monkeypatch):
    """Meridian's letters read with a payer folder in tmp_path (found through the registry's package_dir)."""
    import bots.registry

    folder = _payer_folder(tmp_path, ACME_WORDING)
    real = bots.registry.get_adapter

    class Adapter:
        package_dir = folder

    monkeypatch.setattr(bots.registry, "get_adapter", lambda payer_id: Adapter if payer_id == "meridian"
                        else real(payer_id))
    return folder


def test_stored_letters_are_read_with_the_payers_wording(session, tmp_path, acme_meridian):
    add_claim(session, "C1", payer_claim_number="MHP26001000001")
    records = _letter(tmp_path, "ACME-L1", "Documentation request", ACME_RECORDS.splitlines(), "r.pdf")
    denial = _letter(tmp_path, "ACME-L2", "Important notice", ACME_DENIAL.splitlines(), "d.pdf")
    bulletin = _letter(tmp_path, "ACME-L3", "Provider Bulletin", ["PROVIDER BULLETIN", "Nothing to do."], "b.pdf")
    persist_findings(session, [records, denial, bulletin])
    docs = {d.portal_document_id: d for d in session.exec(select(Document))}
    assert (docs["ACME-L1"].doc_type, docs["ACME-L1"].reference_number, docs["ACME-L1"].due_date) == (
        "records_request", "DCN778899", date(2026, 4, 15))
    assert (docs["ACME-L2"].doc_type, docs["ACME-L2"].due_date) == ("denial", date(2026, 4, 30))
    assert docs["ACME-L3"].doc_type == "other"
    tasks = {t.kind: t for t in list_tasks(session)}
    assert sorted(tasks) == ["correspondence_review", "denial_review", "records_request"]
    assert (tasks["records_request"].reference_number, tasks["records_request"].deadline) == (
        "DCN778899", date(2026, 4, 15))
    assert tasks["denial_review"].deadline == date(2026, 4, 30)
    assert tasks["correspondence_review"].reference_number == "ACME-L3"


def test_a_broken_letters_file_stops_storing_that_payers_letters(session, tmp_path, home, acme_meridian):
    (acme_meridian / "letters.toml").write_text("[fields]\nauth_number = ['Auth: \\w+']\n", encoding="utf-8")
    add_claim(session, "C1")
    finding = _records_letter(tmp_path)
    download = downloads_dir() / "records.pdf"
    download.parent.mkdir(parents=True)
    download.write_bytes(Path(finding.file_path).read_bytes())
    finding = finding.model_copy(update={"file_path": str(download)})
    with pytest.raises(LetterWordingError, match=r"letters\.toml: fields\.auth_number\[0\]: .*exactly one group"):
        persist_findings(session, [finding])
    assert download.is_file()  # not consumed: the letter is read once the file is fixed
    assert not session.exec(select(Document)).all()
