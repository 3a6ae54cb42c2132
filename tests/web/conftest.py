"""The web app over real HTTP on 127.0.0.1: a seeded database, users of each role, and sign-in helpers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fpdf import FPDF
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import select

from bots.evidence import to_stored
from bots.findings import ClaimStatusFinding, PortalProblem, Provenance
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import AuditEvent, Claim, Document, RecordsPacket, Task, TaskHistory
from workqueue.persist import persist_findings
from workqueue.runs import finish_run, start_run
from workqueue.users import add_user
from workqueue.web.app import create_app
from workqueue.web.background import BackgroundServer
from workqueue.web.settings import WebSettings

TODAY = date.today()
PASSWORD = "synthetic-password-1"  # every seeded user's (synthetic) password
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCRIPT_TITLE = "<script>alert('title')</script> Letter"
SCRIPT_SAID = "<img src=x onerror=alert('said')>"
SCRIPT_WORDING = "<script>alert('wording')</script> Denied"
USERS = {"dana": ("biller", "denials-team"), "bea": ("biller", "billing-team"), "olga": ("operator", None),
         "ada": ("admin", None)}


@dataclass
class Web:
    """The running app, its database and the ids of the seeded tasks."""

    url: str
    engine: Engine
    home: Path
    outside: Path
    ids: dict[str, int]

    def task(self, key: str) -> Task:
        with session_scope(self.engine) as s:
            return s.get(Task, self.ids[key])

    def history(self, key: str) -> list[TaskHistory]:
        with session_scope(self.engine) as s:
            return list(s.exec(select(TaskHistory).where(TaskHistory.task_id == self.ids[key])
                               .order_by(TaskHistory.id)).all())

    def audit(self, **where) -> list[AuditEvent]:
        with session_scope(self.engine) as s:
            rows = s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]

    def packets(self) -> list[RecordsPacket]:
        with session_scope(self.engine) as s:
            return list(s.exec(select(RecordsPacket)).all())

    @contextmanager
    def client(self, user: str | None = None) -> Iterator[httpx.Client]:
        """An HTTP client, signed in as `user` if given (through the real sign-in form)."""
        with httpx.Client(base_url=self.url, follow_redirects=False, timeout=20) as client:
            if user:
                sign_in_http(client, user)
            yield client


def pdf_bytes(text: str) -> bytes:
    """A small real PDF."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _finding(claim: str, category: str, raw: str, when: datetime, *, payer: str = "meridian",
             screenshot: Path | None = None, **kw) -> ClaimStatusFinding:
    prov = Provenance(payer_id=payer, account="main", url=f"https://portal.example/{payer}/claims/{claim}",
                      observed_at=when, screenshot_path=str(screenshot) if screenshot else None)
    return ClaimStatusFinding(claim_number=claim, raw_status=raw, status_category=category,
                              payer_claim_number=f"ICN-{claim}", provenance=prov, **kw)


def seed(engine: Engine, home: Path, outside: Path) -> dict[str, int]:
    """Claims with findings across two nights, tasks of each kind owned by dana and others, a letter, a failed run
    whose login problem blocked northwind/main (with a screenshot), and users of every role."""
    shot = home / "evidence" / "ab" / "shot.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(PNG)
    letter = home / "documents" / "meridian" / "letter-1.pdf"
    letter.parent.mkdir(parents=True)
    letter.write_bytes(pdf_bytes("Request for medical records (synthetic)"))
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    (home / "downloads").mkdir()
    (home / "downloads" / "partial.pdf").write_bytes(pdf_bytes("download in progress"))
    week_ago = datetime.now(UTC) - timedelta(days=7)
    lately = datetime.now(UTC) - timedelta(hours=2)
    with session_scope(engine) as s:
        for name, (role, team) in USERS.items():
            add_user(s, name, role, PASSWORD, team=team)
        patients = (("C100", "meridian", "Garcia", "Maria"), ("C200", "meridian", "Nguyen", "An"),
                    ("C300", "northwind", "Okafor", "<script>x</script>"))
        for number, payer, last, first in patients:
            s.add(Claim(claim_number=number, payer_id=payer, member_id=f"MRD{number}", billed_amount=Decimal("250.00"),
                        expected_amount=Decimal("180.00"), date_of_service=TODAY - timedelta(days=60),
                        submitted_date=TODAY - timedelta(days=55), patient_last_name=last, patient_first_name=first,
                        procedure_codes="99213;36415", units="1;1"))
        s.flush()
        run_id = start_run(s, flow_run_id=None, payer_ids=["meridian", "northwind"])
        persist_findings(s, [
            _finding("C100", "P1", "In Process", week_ago),
            _finding("C100", "F2", SCRIPT_WORDING, lately, screenshot=shot, paid=Decimal("0.00"),
                     adjudication_date=TODAY - timedelta(days=3)),
            _finding("C200", "P3", "Pended - Medical Records Requested", lately),
            _finding("C300", "A3", "Rejected - Invalid Member ID", lately, payer="northwind"),
            _finding("C400", "D0", "No claim on file", lately, reference_number="SRCH-77"),
        ], run_id=run_id)
        persist_findings(s, [PortalProblem(
            error_type="LoginFailed", message="The portal refused the password", during_login=True,
            provenance=Provenance(payer_id="northwind", account="main", url="https://portal.example/northwind/login",
                                  observed_at=lately, screenshot_path=to_stored(shot, home)))], run_id=run_id)
        finish_run(s, run_id, counts={"findings_stored": 5}, status="failed",
                   errors=[{"payer_id": "northwind", "account": "main", "error": "login_failed"}])
        by_kind = {t.kind: t for t in s.exec(select(Task)).all()}
        plan = {"denial_review": ("dana", TODAY - timedelta(days=2)),
                "records_request": ("dana", TODAY - timedelta(days=1)),
                "claim_rejected": ("dana", TODAY + timedelta(days=20)),
                "claim_not_found": ("bea", None)}
        for kind, (owner, deadline) in plan.items():
            by_kind[kind].owner, by_kind[kind].deadline = owner, deadline
            s.add(by_kind[kind])
        document = Document(payer_id="meridian", portal_document_id="L-1", title="Records request",
                            letter_date=TODAY - timedelta(days=1), stored_path=to_stored(letter, home),
                            original_file_name="records-request.pdf", claim_number="C200", doc_type="records_request",
                            sha256=hashlib.sha256(letter.read_bytes()).hexdigest())
        letter_task = Task(kind="correspondence_review", payer_id="meridian", title=SCRIPT_TITLE,
                           payer_said=SCRIPT_SAID, owner="dana", deadline=TODAY - timedelta(days=3),
                           reference_number="DOC-<b>1</b>", claim_number="C200",
                           dedupe_key="correspondence_review:meridian:DOC1", action="Read the letter.",
                           evidence=[{"source": "letter", "document_path": to_stored(letter, home),
                                      "observed_at": lately.isoformat()}])
        stray = Task(kind="portal_error", payer_id="northwind", title="Portal error at northwind",
                     owner="bot-operators", deadline=TODAY + timedelta(days=1), priority="high",
                     dedupe_key="portal_error:northwind:other",
                     evidence=[{"source": "portal_problem", "screenshot_path": str(outside / "secret.png")},
                               {"source": "portal_problem", "screenshot_path": f"{home}/../outside/secret.png"},
                               {"source": "letter", "document_path": "/etc/passwd"},
                               {"source": "portal_problem", "screenshot_path": str(home / "payerbot.db")},
                               {"source": "portal_problem", "screenshot_path": "downloads/partial.pdf"},
                               {"source": "portal_problem", "screenshot_path": str(shot),
                                "url": "javascript:alert(1)"}])
        closed = Task(kind="denial_review", payer_id="northwind", title="Old denial", owner="denials-team",
                      deadline=TODAY - timedelta(days=30), status="done", dedupe_key="denial_review:northwind:C9")
        s.add_all([document, letter_task, stray, closed])
        s.flush()
        ids = {kind: by_kind[kind].id for kind in plan}
        login = s.exec(select(Task).where(Task.kind == "login_failed")).one()
        ids.update(letter=letter_task.id, stray=stray.id, closed=closed.id, login=login.id, run=run_id,
                   document=document.id)
    return ids


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PAYERBOT_HOME with no outside settings leaking in."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("PAYERBOT_HOME", str(folder))
    for name in ("PAYERBOT_DATABASE_URL", "PAYERBOT_RULES", "PAYERBOT_WEB_TRUSTED_HEADER",
                 "PAYERBOT_WEB_TRUSTED_PROXIES", "PAYERBOT_WEB_IDLE_MINUTES", "PAYERBOT_WEB_SESSION_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return folder


def start(home: Path, settings: WebSettings | None = None) -> tuple[Engine, dict[str, int], BackgroundServer]:
    """Seed the database under `home` and build (not yet start) its server."""
    engine = init_db(get_engine(f"sqlite:///{home / 'payerbot.db'}"))
    ids = seed(engine, home, home.parent / "outside")
    return engine, ids, BackgroundServer(create_app(engine, today=lambda: TODAY, settings=settings or WebSettings()))


@pytest.fixture
def web(home: Path) -> Iterator[Web]:
    """The seeded web app, serving."""
    engine, ids, server = start(home)
    with server:
        yield Web(server.url, engine, home, home.parent / "outside", ids)


def sign_in(page: Page, web: Web, user: str, password: str = PASSWORD) -> None:
    """Sign in through the real form in Chromium."""
    page.goto(f"{web.url}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in-as")).to_contain_text(user)


def sign_in_http(client: httpx.Client, user: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the real form over plain HTTP (the form's token comes from the page)."""
    page = client.get("/login")
    token = re.search(r'/login\?csrf=([^"&]+)"', page.text)
    assert token, page.text
    response = client.post(f"/login?csrf={token.group(1)}", data={"username": user, "password": password})
    assert response.status_code == 303, response.text
    return response


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    """The form token on a page (the one every POST of this session must carry)."""
    text = client.get(path).text
    match = re.search(r"\?csrf=([A-Za-z0-9_\-]+)", text)
    assert match, text[:500]
    return match.group(1)


def flash(page: Page) -> str:
    """The one-time message after an action."""
    return page.locator("#flash").inner_text()
