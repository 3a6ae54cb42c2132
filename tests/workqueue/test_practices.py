"""Many practices: tasks, letters, packets and non-inventory claims take the right practice; letters stay in theirs."""

from __future__ import annotations

from bots.findings import PortalProblem
from tests.workqueue.conftest import add_claim, prov, status
from tests.workqueue.test_letters import _records_letter
from workqueue.models import Claim, Document, PortalAccount
from workqueue.persist import persist_findings
from workqueue.planning import plan_night
from workqueue.practice_rows import record_account_practices
from workqueue.tasks import attach_packet, list_tasks


def _through(finding, account: str):
    """The same finding read through another account of the payer."""
    return finding.model_copy(update={"provenance": finding.provenance.model_copy(update={"account": account})})


def _accounts(session) -> None:
    record_account_practices(session, [("meridian", "main", "default"), ("meridian", "lake", "lakeview")])


def test_claim_tasks_take_the_claims_practice_and_problems_the_accounts(session):
    _accounts(session)
    add_claim(session, "C1", practice="lakeview")
    persist_findings(session, [_through(status("C1", "F2", "Denied"), "lake")])
    problem = PortalProblem(error_type="LoginFailed", message="refused", during_login=True,
                            provenance=prov().model_copy(update={"account": "lake"}))
    persist_findings(session, [problem])
    tasks = {t.kind: t for t in list_tasks(session)}
    assert (tasks["denial_review"].practice, tasks["login_failed"].practice) == ("lakeview", "lakeview")
    assert session.get(PortalAccount, ("meridian", "lake")).state == "blocked"


def test_a_claim_only_the_portal_knows_takes_the_accounts_practice(session):
    _accounts(session)
    persist_findings(session, [_through(status("C9", "P1", "In process"), "lake")])
    assert session.get(Claim, "C9").practice == "lakeview"


def test_an_answer_through_another_practices_account_is_not_stored(session):
    _accounts(session)
    add_claim(session, "C1", practice="lakeview")
    report = persist_findings(session, [status("C1", "F2", "Denied")])  # through main: the default practice
    assert report.findings_stored == 0 and "another practice" in report.errors[0]
    assert session.get(Claim, "C1").status_category is None and list_tasks(session) == []


def test_payer_wide_tasks_are_one_per_practice(session):
    _accounts(session)
    add_claim(session, "C1")
    add_claim(session, "C2", practice="lakeview")
    wording = "Awaiting other insurance information"
    persist_findings(session, [status("C1", None, wording), _through(status("C2", None, wording), "lake")])
    unmapped = sorted((t.practice, [e["claim_number"] for e in t.evidence]) for t in list_tasks(session)
                      if t.kind == "unmapped_status")
    assert unmapped == [("default", ["C1"]), ("lakeview", ["C2"])]


def test_a_letter_belongs_to_its_accounts_practice_and_never_to_another_practices_claim(session, tmp_path, home):
    _accounts(session)
    add_claim(session, "C1", payer_claim_number="MHP26001000001")  # the default practice's claim
    # The letter quotes C1 (patient account and payer claim number) but came through lakeview's account.
    persist_findings(session, [_through(_records_letter(tmp_path), "lake")])
    document = session.exec(Document.__table__.select()).one()
    assert (document.practice, document.claim_number) == ("lakeview", None)
    [task] = list_tasks(session)
    assert (task.kind, task.claim_number, task.practice) == ("correspondence_review", None, "lakeview")
    # Through the claim's own practice's account the same kind of letter is linked.
    persist_findings(session, [_records_letter(tmp_path, letter_id="MHP-L00002")])
    linked = session.exec(Document.__table__.select().where(Document.portal_document_id == "MHP-L00002")).one()
    assert (linked.practice, linked.claim_number) == ("default", "C1")


def test_packets_take_their_tasks_practice_and_the_plan_knows_it(session, tmp_path, home):
    _accounts(session)
    add_claim(session, "C1", practice="lakeview")
    persist_findings(session, [_through(status("C1", "P3", "Pended for records"), "lake")])
    task = next(t for t in list_tasks(session) if t.kind == "records_request")
    pdf = tmp_path / "records.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% synthetic\n")
    packet = attach_packet(session, task.id, pdf, actor="dana")
    assert (task.practice, packet.practice) == ("lakeview", "lakeview")
    packet.status = "queued"
    session.add(packet)
    session.flush()
    plan = plan_night(session, payer_ids=["meridian"], force=True)
    assert plan.practice_of_packet == {packet.packet_id: "lakeview"}
    assert [(q.claim_number, q.practice) for q in plan.claims["meridian"]] == [("C1", "lakeview")]


def test_recording_account_practices_updates_a_moved_account(session):
    assert record_account_practices(session, [("meridian", "main", "default")]) == 1
    assert record_account_practices(session, [("meridian", "main", "default")]) == 0
    assert record_account_practices(session, [("meridian", "main", "lakeview")]) == 1
    assert session.get(PortalAccount, ("meridian", "main")).practice == "lakeview"


def test_the_nights_plan_gives_each_practice_its_own_accounts(session, home, tmp_path, monkeypatch):
    from bots.credentials import Credential, CredentialStore
    from flows.nightly import plan_work

    monkeypatch.setenv("PAYERBOT_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("PAYERBOT_DATABASE_URL", f"sqlite:///{home / 'test.db'}")
    store = CredentialStore()
    for account, practice in (("main", "default"), ("lake", "lakeview")):
        store.put(Credential(payer_id="meridian", account=account, username="u", password="p", practice=practice))
    for number, practice in (("C1", "default"), ("C2", "lakeview"), ("C3", "lakeview"), ("C4", "riverside")):
        add_claim(session, number, practice=practice)
    session.commit()
    works, skipped = plan_work.fn(["meridian"], True)
    assert {w.credential.account: [c.claim_number for c in w.claims] for w in works} == {
        "lake": ["C2", "C3"], "main": ["C1"]}
    assert skipped == {"meridian@riverside": "no credentials stored for practice riverside"}
    assert all(w.correspondence and w.authorizations for w in works)
    session.expire_all()
    assert session.get(PortalAccount, ("meridian", "lake")).practice == "lakeview"
