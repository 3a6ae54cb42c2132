"""Claim lookup: search by number, ICN, member id or name; the claim page data; `claims show/search`; templates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from flows.cli import app
from workqueue import cli
from workqueue.claimview import claim_detail, search_claims
from workqueue.db import get_engine, init_db
from workqueue.models import Claim, Document, RecordsPacket, StatusFinding, Task
from workqueue.web.render import make_templates

runner = CliRunner()
TEMPLATES = Path(__file__).resolve().parents[2] / "workqueue" / "web" / "templates"
T1 = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def url(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite database the CLI uses too, seeded with a few claims and one claim's whole story."""
    url = f"sqlite:///{tmp_path}/q.db"
    engine = get_engine(url)
    init_db(engine)
    monkeypatch.setenv("PAYERBOT_DATABASE_URL", url)
    with Session(engine) as s:
        _seed(s)
        s.commit()
    return url


@pytest.fixture
def session(url: str):
    """A session on the seeded database."""
    with Session(get_engine(url), expire_on_commit=False) as s:
        yield s


def _claim(number: str, last: str | None, first: str | None, member: str, dos: date | None, **kw) -> Claim:
    kw.setdefault("payer_id", "meridian")
    return Claim(claim_number=number, patient_last_name=last, patient_first_name=first, member_id=member,
                 date_of_service=dos, **kw)


def _seed(s: Session) -> None:
    s.add(_claim("C1001", "Garcia", "Maria", "MRD100", date(2026, 1, 10), payer_name="Meridian Health",
                 payer_claim_number="ICN2026A1", billed_amount=Decimal("250.00"), procedure_codes="99213;85025",
                 status_category="F1", raw_status="Paid in full", status_reference="REF-9", paid=Decimal("180.5"),
                 patient_responsibility=Decimal("20"), check_number="EFT777", payment_date=date(2026, 3, 1),
                 adjudication_date=date(2026, 2, 27), finalized=True, last_checked_at=T2))
    s.add(_claim("C1002", "Garcia-Lopez", "Ana", "MRD200", date(2026, 2, 15)))
    s.add(_claim("C10020", "Smith", "Maria", "MRD300", date(2026, 2, 20)))
    s.add(_claim("C2000", "De La Cruz", "Jose", "XY_9%", None, payer_id="harbor"))
    s.add(_claim("C3000", "Nguyen", "Linh", "MRD400", date(2025, 12, 1), raw_status=SCRIPT, status_category="P1",
                 payer_name="Payer " + SCRIPT))
    s.flush()
    s.add(StatusFinding(claim_number="C1001", payer_id="meridian", status_category="F1", raw_status="Paid in full",
                        fingerprint="b", observed_at=T2, run_id=8,
                        finding={"reference_number": "REF-9", "paid": "180.50", "carc_codes": ["45"]}))
    s.add(StatusFinding(claim_number="C1001", payer_id="meridian", status_category="P1", raw_status="In process",
                        fingerprint="a", observed_at=T1, run_id=7, finding={"reference_number": None}))
    task = Task(kind="records_request", claim_number="C1001", payer_id="meridian", title="Send records",
                owner="records-team", deadline=date(2026, 3, 15), reference_number="DCN-5", dedupe_key="k1")
    s.add(task)
    s.add(Task(kind="other", claim_number="C1002", payer_id="meridian", title="Not this claim", owner="x",
               dedupe_key="k2"))
    s.flush()
    s.add(Document(sha256="d1", payer_id="meridian", portal_document_id="P1", title="Records request letter",
                   letter_date=date(2026, 2, 28), stored_path="documents/secret.pdf", original_file_name="a.pdf",
                   doc_type="records_request", claim_number="C1001", due_date=date(2026, 3, 30),
                   reference_number="DCN-5"))
    s.add(RecordsPacket(packet_id="PKT-1-abc", task_id=task.id, claim_number="C1001", payer_id="meridian",
                        stored_path="packets/x.pdf", original_file_name="records.pdf", sha256="x",
                        status="uploaded", confirmation_number="CONF-1", uploaded_at=T2))


def _numbers(session: Session, text: str) -> list[str]:
    return [c.claim_number for c in search_claims(session, text)]


def test_search_by_claim_number_exact_first_then_newest_service(session):
    assert _numbers(session, "C1002") == ["C1002", "C10020"]
    assert _numbers(session, "c1001") == ["C1001"]
    assert _numbers(session, "C100") == ["C10020", "C1002", "C1001"]  # prefix: by date of service, newest first
    assert _numbers(session, "  C2000 ") == ["C2000"]


def test_search_by_payer_claim_number_and_member_id(session):
    assert _numbers(session, "icn2026a1") == ["C1001"]
    assert _numbers(session, "ICN2026") == ["C1001"]
    assert _numbers(session, "mrd200") == ["C1002"]
    assert _numbers(session, "MRD") == ["C10020", "C1002", "C1001", "C3000"]


def test_search_by_patient_name_forms(session):
    assert _numbers(session, "Garcia") == ["C1002", "C1001"]
    assert _numbers(session, "garcia maria") == ["C1001"]
    assert _numbers(session, "Garcia, Maria") == ["C1001"]
    assert _numbers(session, "Maria Garcia") == ["C1001"]
    assert _numbers(session, "GARCIA,maria") == ["C1001"]
    assert _numbers(session, "maria") == ["C10020", "C1001"]
    assert _numbers(session, "Lopez") == ["C1002"]  # a part of a double last name
    assert _numbers(session, "cruz jose") == ["C2000"]
    assert _numbers(session, "Gar Mar") == ["C1001"]  # prefixes
    assert _numbers(session, "arcia") == []  # names match from the start of a part, not anywhere
    assert _numbers(session, "Garcia Jose") == []


def test_search_escapes_like_wildcards_and_ignores_empty(session):
    assert _numbers(session, "%") == []
    assert _numbers(session, "_") == []
    assert _numbers(session, "C_00") == []
    assert _numbers(session, "\\") == []
    assert _numbers(session, "XY_9%") == ["C2000"]  # taken literally they still match
    assert _numbers(session, "") == [] and _numbers(session, "   ") == [] and _numbers(session, " , ") == []
    assert _numbers(session, "C1001" + "x" * 200) == []  # capped, and no error
    assert len(search_claims(session, "MRD", limit=2)) == 2


def test_claim_detail_matches_the_seeded_rows(session):
    assert claim_detail(session, "NOPE") is None
    detail = claim_detail(session, "C1001")
    assert set(detail) == {"claim", "status", "findings", "tasks", "documents", "uploads"}
    claim = detail["claim"]
    assert claim["claim_number"] == "C1001" and claim["payer_id"] == "meridian"
    assert claim["patient_name"] == "Garcia, Maria" and claim["member_id"] == "MRD100"
    assert claim["date_of_service"] == "2026-01-10" and claim["billed_amount"] == "250.00"
    assert claim["payer_claim_number"] == "ICN2026A1" and claim["procedure_codes"] == ["99213", "85025"]
    assert claim["paid"] == "180.50" and claim["patient_responsibility"] == "20.00"
    status = detail["status"]
    assert status["category"] == "F1" and status["meaning"] and status["raw_status"] == "Paid in full"
    assert status["paid"] == "180.50" and status["check_number"] == "EFT777"
    assert status["last_checked_at"] == T2.isoformat() and status["next_check_at"] is None
    assert status["payment_date"] == "2026-03-01" and status["reference_number"] == "REF-9"
    first, second = detail["findings"]
    assert (first["run_id"], first["category"], first["raw_status"]) == (7, "P1", "In process")
    assert first["observed_at"] == T1.isoformat() and first["paid"] is None and first["carc_codes"] == []
    assert (second["run_id"], second["reference_number"], second["paid"], second["carc_codes"]) == \
        (8, "REF-9", "180.50", ["45"])
    assert second["meaning"] == status["meaning"]
    [task] = detail["tasks"]
    assert task["kind"] == "records_request" and task["owner"] == "records-team"
    assert task["deadline"] == "2026-03-15" and task["reference_number"] == "DCN-5" and task["status"] == "open"
    [doc] = detail["documents"]
    assert doc == {"id": doc["id"], "title": "Records request letter", "letter_date": "2026-02-28",
                   "doc_type": "records_request", "due_date": "2026-03-30", "reference_number": "DCN-5"}
    [upload] = detail["uploads"]
    assert upload == {"packet_id": "PKT-1-abc", "task_id": task["id"], "status": "uploaded",
                      "original_file_name": "records.pdf", "confirmation_number": "CONF-1",
                      "uploaded_at": T2.isoformat()}
    assert "stored_path" not in json.dumps(detail) and "secret.pdf" not in json.dumps(detail)
    empty = claim_detail(session, "C2000")
    assert empty["findings"] == empty["tasks"] == empty["documents"] == empty["uploads"] == []
    assert empty["status"]["category"] is None and empty["claim"]["date_of_service"] is None


def test_claims_show_and_search_commands(url, monkeypatch):
    monkeypatch.setattr(cli.console, "_width", 200)  # no wrapped cells
    shown = runner.invoke(app, ["claims", "show", "C1001", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["claim"]["claim_number"] == "C1001" and len(data["findings"]) == 2
    assert data["uploads"][0]["confirmation_number"] == "CONF-1"

    table = runner.invoke(app, ["claims", "show", "C1001"])
    assert table.exit_code == 0, table.output
    for text in ("Garcia, Maria", "Paid in full", "EFT777", "In process", "Send records", "Records request",
                 "CONF-1", "records.pdf"):
        assert text in table.stdout
    odd = runner.invoke(app, ["claims", "show", "C3000"])
    assert odd.exit_code == 0 and SCRIPT in odd.stdout  # shown as typed, not eaten as rich markup

    missing = runner.invoke(app, ["claims", "show", "NOPE"])
    assert missing.exit_code == 1 and "no claim NOPE" in missing.stderr

    found = runner.invoke(app, ["claims", "search", "Garcia, Maria", "--json"])
    assert found.exit_code == 0, found.output
    [row] = json.loads(found.stdout)
    assert row["claim_number"] == "C1001" and row["member_id"] == "MRD100" and row["date_of_service"] == "2026-01-10"
    listed = runner.invoke(app, ["claims", "search", "MRD"])
    assert listed.exit_code == 0 and "C10020" in listed.stdout and "4 claim(s)" in listed.stdout
    assert json.loads(runner.invoke(app, ["claims", "search", "%", "--json"]).stdout) == []


def _env() -> jinja2.Environment:
    return make_templates().env  # the app's own environment: autoescape, strict, its filters


BASE = {"root": "/wq", "title": "", "viewer": None, "flash": None, "csrf": "t", "csrf_param": "csrf"}


def test_claims_template_renders_results_escaped(session):
    template = _env().get_template("claims.html")
    html = template.render(**BASE, q="MRD", results=search_claims(session, "MRD"), searched=True)
    assert 'action="/wq/claims"' in html and 'id="claim-q"' in html and 'name="q"' in html
    assert '<label for="claim-q">Claim number, payer claim number, member id or patient name</label>' in html
    assert 'href="/wq/claims/C1001"' in html and "Garcia, Maria" in html and "01/10/2026" in html
    assert SCRIPT not in html and "&lt;script&gt;" in html
    assert "No claims match" not in html
    empty = template.render(**BASE, q="<b>zz", results=[], searched=True)
    assert "No claims match" in empty and "<b>zz" not in empty
    first = template.render(**BASE, q="", results=[], searched=False)
    assert "No claims match" not in first and 'id="claim-q"' in first


def test_claim_template_renders_every_section_escaped(session):
    template = _env().get_template("claim.html")
    hrefs = {"task_href": "/wq/tasks", "document_href": "/wq/letters", "packet_href": "/wq/packets"}
    html = template.render(**BASE, detail=claim_detail(session, "C1001"), **hrefs)
    for section in ("status", "timeline", "tasks", "documents", "uploads"):
        assert f'id="{section}"' in html
    task_id = claim_detail(session, "C1001")["tasks"][0]["id"]
    assert f'href="/wq/tasks/{task_id}"' in html and 'href="/wq/packets/PKT-1-abc"' in html
    assert 'href="/wq/letters/' in html and "secret.pdf" not in html
    assert "$180.50" in html and "EFT777" in html and "03/15/2026" in html and "CONF-1" in html
    assert "In process" in html and "Paid in full" in html
    odd = template.render(**BASE, detail=claim_detail(session, "C3000"), **hrefs)
    assert SCRIPT not in odd and odd.count("&lt;script&gt;") >= 2  # the payer's wording and name
    assert "No tasks on this claim" in odd and "have not read" in odd
