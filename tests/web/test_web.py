"""The biller web worklist over real HTTP: Chromium drives the pages, the database is the oracle."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn
from fpdf import FPDF
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from bots.evidence import from_stored
from bots.findings import ClaimStatusFinding, Provenance
from sandbox.server import free_port
from workqueue.db import get_engine, init_db, session_scope
from workqueue.models import ACTIVE_STATUSES, Claim, RecordsPacket, StatusFinding, Task, TaskHistory
from workqueue.persist import persist_findings
from workqueue.web.app import PAGE_SIZE, create_app, serve

TODAY = date.today()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SCRIPT_TITLE = "<script>alert('title')</script> Letter"
SCRIPT_SAID = "<img src=x onerror=alert('said')>"


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

    def packets(self) -> list[RecordsPacket]:
        with session_scope(self.engine) as s:
            return list(s.exec(select(RecordsPacket)).all())


def _finding(claim: str, category: str, raw: str, when: datetime, *, payer: str = "meridian",
             screenshot: Path | None = None, **kw) -> ClaimStatusFinding:
    prov = Provenance(payer_id=payer, account="main", url=f"https://portal.example/{payer}/claims/{claim}",
                      observed_at=when, screenshot_path=str(screenshot) if screenshot else None)
    return ClaimStatusFinding(claim_number=claim, raw_status=raw, status_category=category,
                              payer_claim_number=f"ICN-{claim}", provenance=prov, **kw)


def _seed(engine: Engine, home: Path, outside: Path) -> dict[str, int]:
    """Four claim tasks from real findings, two hand-made tasks, one closed task; deadlines set around TODAY."""
    shot = home / "evidence" / "ab" / "shot.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(PNG)
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    lately = datetime.now(UTC) - timedelta(hours=2)
    with session_scope(engine) as s:
        for number, payer in (("C100", "meridian"), ("C200", "meridian"), ("C300", "northwind")):
            s.add(Claim(claim_number=number, payer_id=payer, member_id="MRD000111", billed_amount=Decimal("250.00"),
                        expected_amount=Decimal("180.00"), date_of_service=TODAY - timedelta(days=60),
                        procedure_codes="99213;36415", units="1;1"))
        s.flush()
        persist_findings(s, [
            _finding("C100", "P1", "In Process", week_ago),
            _finding("C100", "F2", "Denied", lately, screenshot=shot, paid=Decimal("0.00"),
                     adjudication_date=TODAY - timedelta(days=3)),
            _finding("C200", "P3", "Pended - Medical Records Requested", lately),
            _finding("C300", "A3", "Rejected - Invalid Member ID", lately, payer="northwind"),
            _finding("C400", "D0", "No claim on file", lately, reference_number="SRCH-77"),
        ])
        by_kind = {t.kind: t for t in s.exec(select(Task)).all()}
        deadlines = {"denial_review": TODAY - timedelta(days=2), "records_request": TODAY + timedelta(days=2),
                     "claim_rejected": TODAY + timedelta(days=20), "claim_not_found": None}
        for kind, deadline in deadlines.items():
            by_kind[kind].deadline = deadline
            s.add(by_kind[kind])
        script = Task(kind="correspondence_review", payer_id="meridian", title=SCRIPT_TITLE, payer_said=SCRIPT_SAID,
                      owner="billing-team", deadline=TODAY + timedelta(days=10), reference_number="DOC-<b>1</b>",
                      dedupe_key="correspondence_review:meridian:DOC1", action="Read the letter.")
        stray = Task(kind="portal_error", payer_id="northwind", title="Portal error at northwind",
                     owner="bot-operators", deadline=TODAY + timedelta(days=1), priority="high",
                     dedupe_key="portal_error:northwind:main",
                     evidence=[{"source": "portal_problem", "screenshot_path": str(outside / "secret.png")},
                               {"source": "portal_problem", "screenshot_path": f"{home}/../outside/secret.png"},
                               {"source": "letter", "document_path": "/etc/passwd"},
                               {"source": "portal_problem", "screenshot_path": str(shot),
                                "url": "javascript:alert(1)"}])
        closed = Task(kind="denial_review", payer_id="northwind", title="Old denial", owner="denials-team",
                      deadline=TODAY - timedelta(days=30), status="done", dedupe_key="denial_review:northwind:C9")
        s.add_all([script, stray, closed])
        s.flush()
        ids = {kind: by_kind[kind].id for kind in deadlines}
        ids.update(script=script.id, stray=stray.id, closed=closed.id)
    return ids


class _Server:
    """The worklist app in a uvicorn thread on a free 127.0.0.1 port (like sandbox.server.SandboxServer)."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="worklist", daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("worklist server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    """A seeded database under a tmp PAYERBOT_HOME and the worklist serving it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PAYERBOT_HOME", str(home))
    monkeypatch.delenv("PAYERBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYERBOT_RULES", raising=False)
    engine = init_db(get_engine(f"sqlite:///{home / 'payerbot.db'}"))
    ids = _seed(engine, home, tmp_path / "outside")
    with _Server(create_app(engine, today=lambda: TODAY)) as server:
        yield Web(server.url, engine, home, tmp_path / "outside", ids)


def _pdf(path: Path) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Medical records for claim C200 (synthetic)")
    pdf.output(str(path))
    return path


def _row_ids(page: Page) -> list[int]:
    return [int(v) for v in page.locator("#tasks tbody tr").evaluate_all("rows => rows.map(r => r.dataset.taskId)")]


def _flash(page: Page) -> str:
    return page.locator("#flash").inner_text()


def test_worklist_orders_by_deadline_flags_due_dates_and_filters(page: Page, web: Web):
    page.goto(web.url + "/")
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    with session_scope(web.engine) as s:
        active = s.exec(select(Task).where(Task.status.in_(ACTIVE_STATUSES))).all()
        rank = {"high": 0, "normal": 1, "low": 2}
        expected = [t.id for t in sorted(active, key=lambda t: (t.deadline is None, t.deadline or TODAY,
                                                                rank[t.priority], t.id))]
        owners = {t.id: t.owner for t in active}
        kinds = {t.id: t.kind for t in active}
    shown = _row_ids(page)
    assert shown == expected and len(shown) == 6
    assert web.ids["closed"] not in shown  # done: not in the default (active) view
    assert web.ids["claim_not_found"] == shown[-1]  # no deadline: last
    dates = page.locator("#tasks tbody time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert dates == sorted(dates)

    overdue = page.locator(f"tr[data-task-id='{web.ids['denial_review']}']")
    expect(overdue).to_have_class(re.compile(r"\boverdue\b"))
    expect(overdue.locator(".flag")).to_have_text("overdue by 2 days")
    soon = page.locator(f"tr[data-task-id='{web.ids['records_request']}']")
    expect(soon).to_have_class(re.compile(r"\bdue-soon\b"))
    expect(soon.locator(".flag")).to_have_text("due in 2 days")
    expect(page.locator(f"tr[data-task-id='{web.ids['claim_rejected']}'] .flag")).to_have_count(0)
    expect(overdue.locator("td.reference")).to_have_text("ICN-C100")

    counts = dict(zip(page.locator("#counts-by-owner tbody th").all_inner_texts(),
                      page.locator("#counts-by-owner tbody td").all_inner_texts(), strict=True))
    assert counts == {o: str(list(owners.values()).count(o)) for o in set(owners.values())}

    page.get_by_label("Owner").select_option("billing-team")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"owner=billing-team"))
    expect(page.locator("#tasks tbody tr")).to_have_count(3)
    assert _row_ids(page) == [i for i in expected if owners[i] == "billing-team"]
    assert len(_row_ids(page)) == 3

    page.get_by_label("Owner").select_option("")
    page.get_by_label("Kind").select_option("records_request")
    page.get_by_role("button", name="Filter").click()
    # the filtered page replaces the current one: wait for it before reading its rows
    expect(page).to_have_url(re.compile(r"kind=records_request"))
    expect(page.locator("#tasks tbody tr")).to_have_count(1)
    assert _row_ids(page) == [i for i in expected if kinds[i] == "records_request"] == [web.ids["records_request"]]

    page.goto(web.url + "/?q=srch-77")  # reference numbers match case-insensitively
    assert _row_ids(page) == [web.ids["claim_not_found"]]
    page.goto(web.url + "/?status=done")
    assert _row_ids(page) == [web.ids["closed"]]


def test_task_page_answers_the_seven_questions(page: Page, web: Web):
    task = web.task("denial_review")
    page.goto(f"{web.url}/tasks/{task.id}")
    expect(page.locator("#reference-number")).to_have_text(task.reference_number)
    expect(page.locator("#owner")).to_have_text(task.owner)
    expect(page.locator("#deadline time")).to_have_attribute("datetime", task.deadline.isoformat())
    expect(page.locator("#deadline time")).to_have_text(f"{task.deadline:%m/%d/%Y}")
    expect(page.locator("#deadline .flag")).to_have_text("overdue by 2 days")
    expect(page.locator("#payer-said")).to_have_text(task.payer_said)
    expect(page.locator("#action")).to_have_text(task.action)
    expect(page.locator("#uploaded-document")).to_contain_text("Nothing uploaded")
    expect(page.locator("#claim-billed")).to_have_text("$250.00")
    expect(page.locator("#claim-expected")).to_have_text("$180.00")
    expect(page.locator("#claim-paid")).to_have_text("$0.00")
    with session_scope(web.engine) as s:
        raws = list(s.exec(select(StatusFinding.raw_status).where(StatusFinding.claim_number == "C100")
                           .order_by(StatusFinding.observed_at)).all())
        history_count = s.exec(select(func.count()).select_from(TaskHistory)
                               .where(TaskHistory.task_id == task.id)).one()
    assert raws == ["In Process", "Denied"]
    assert page.locator("#status-history tbody tr td:nth-child(3)").all_inner_texts() == raws
    expect(page.locator("#history tbody tr")).to_have_count(history_count)
    # the screenshot inside PAYERBOT_HOME is linked and served byte for byte
    link = page.locator("#evidence a.evidence-file").first
    expect(link).to_have_text("Screenshot")
    response = page.request.get(web.url + link.get_attribute("href"))
    assert response.status == 200 and response.body() == PNG
    assert response.headers["content-type"] == "image/png"
    # a records packet form is offered only on records_request tasks
    expect(page.locator("#attach-form")).to_have_count(0)


def test_assigning_records_history_with_the_name_typed(page: Page, web: Web):
    task_id = web.ids["denial_review"]
    before = len(web.history("denial_review"))
    page.goto(f"{web.url}/tasks/{task_id}")
    page.locator("#assign-actor").fill("Dana R.")
    page.locator("#assign-owner").fill("dana")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("#flash")).to_have_text(f"Task {task_id} reassigned from denials-team to dana.")
    assert web.task("denial_review").owner == "dana"
    rows = web.history("denial_review")
    assert len(rows) == before + 1
    assert (rows[-1].actor, rows[-1].field, rows[-1].old, rows[-1].new) == ("Dana R.", "owner", "denials-team", "dana")
    expect(page.locator("#owner")).to_have_text("dana")
    expect(page.locator("#history tbody tr").last.locator(".actor")).to_have_text("Dana R.")

    # the name is remembered; closing without a note is refused, with one it closes as that person
    expect(page.locator("#status-actor")).to_have_value("Dana R.")
    page.locator("#status-value").select_option("done")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#flash")).to_contain_text("Add a note")
    assert web.task("denial_review").status == "open"
    page.locator("#status-value").select_option("done")
    page.locator("#status-note").fill("appeal faxed")
    page.get_by_role("button", name="Set status").click()
    closed = web.task("denial_review")
    assert (closed.status, closed.closed_by, closed.closed_reason) == ("done", "Dana R.", "appeal faxed")
    expect(page.locator("#task-status")).to_have_text("done")


def test_attaching_a_pdf_then_queueing_it_marks_the_packet_queued(page: Page, web: Web, tmp_path: Path):
    task_id = web.ids["records_request"]
    pdf = _pdf(tmp_path / "records C200.pdf")
    page.goto(f"{web.url}/tasks/{task_id}")
    expect(page.locator("#queue-form")).to_have_count(0)
    page.locator("#attach-actor").fill("Rita")
    page.get_by_label("Records packet (PDF)").set_input_files(str(pdf))
    page.get_by_role("button", name="Attach PDF").click()
    expect(page.locator("#flash")).to_contain_text("attached as draft packet")
    [packet] = web.packets()
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert (packet.task_id, packet.status, packet.sha256) == (task_id, "draft", sha)
    assert packet.original_file_name == "records C200.pdf"
    assert not Path(packet.stored_path).is_absolute()  # relative to PAYERBOT_HOME: the folder may move
    assert from_stored(packet.stored_path).read_bytes() == pdf.read_bytes()
    assert from_stored(packet.stored_path).parent == web.home / "packets"
    expect(page.locator(f"tr[data-packet-id='{packet.packet_id}'] .packet-status")).to_have_text("draft")

    page.get_by_role("button", name="Queue for tonight's upload").click()
    expect(page.locator("#flash")).to_contain_text(f"Packet {packet.packet_id} queued")
    [packet] = web.packets()
    assert packet.status == "queued"
    assert web.task("records_request").status == "in_progress"
    actions = [(h.action, h.actor) for h in web.history("records_request")]
    assert ("packet_attached", "Rita") in actions and ("upload_queued", "Rita") in actions
    # the stored packet can be opened from the task page
    href = page.locator(f"tr[data-packet-id='{packet.packet_id}'] a").get_attribute("href")
    response = page.request.get(web.url + href)
    assert response.status == 200 and response.body() == pdf.read_bytes()


def test_a_non_pdf_is_refused_and_nothing_is_stored(page: Page, web: Web, tmp_path: Path):
    task_id = web.ids["records_request"]
    before = len(web.history("records_request"))
    page.goto(f"{web.url}/tasks/{task_id}")
    page.locator("#attach-actor").fill("Rita")
    for name in ("notes.txt", "scan.pdf"):  # a .pdf name is not enough: the bytes must be a PDF
        fake = tmp_path / name
        fake.write_text("these are not records")
        page.get_by_label("Records packet (PDF)").set_input_files(str(fake))
        page.get_by_role("button", name="Attach PDF").click()
        expect(page.locator("#flash")).to_have_text(
            f"{name} is not a PDF file, so it was not attached. Records packets must be PDF files.")
        expect(page.locator("#flash")).to_have_attribute("role", "alert")
    assert web.packets() == []
    assert not (web.home / "packets").exists() or not any((web.home / "packets").iterdir())
    assert len(web.history("records_request")) == before
    expect(page.locator("#packets")).to_have_count(0)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(page: Page, web: Web):
    task_id = web.ids["claim_rejected"]
    before = len(web.history("claim_rejected"))
    page.goto(f"{web.url}/tasks/{task_id}")
    page.locator("#assign-form input[name=csrf_token]").evaluate("input => input.remove()")
    page.locator("#assign-actor").fill("Mallory")
    page.locator("#assign-owner").fill("mallory")
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name="Assign").click()
    assert info.value.status == 403
    expect(page.get_by_role("heading", name="Form expired")).to_be_visible()
    assert web.task("claim_rejected").owner == "billing-team"
    assert len(web.history("claim_rejected")) == before

    # a token copied from another browser's page does not work without that browser's cookie either
    with httpx.Client(base_url=web.url) as victim, httpx.Client(base_url=web.url) as attacker:
        token = re.search(r'name="csrf_token" value="([^"]+)"', victim.get(f"/tasks/{task_id}").text).group(1)
        stolen = attacker.post(f"/tasks/{task_id}/assign", data={"csrf_token": token, "actor": "M", "owner": "m"})
        forged = victim.post(f"/tasks/{task_id}/assign", data={"csrf_token": "0" * 64, "actor": "M", "owner": "m"})
        bare = victim.post(f"/tasks/{task_id}/status", data={"actor": "M", "status": "cancelled", "note": "x"})
    assert (stolen.status_code, forged.status_code, bare.status_code) == (403, 403, 403)
    task = web.task("claim_rejected")
    assert (task.owner, task.status) == ("billing-team", "open")
    assert len(web.history("claim_rejected")) == before


def test_evidence_outside_payerbot_home_is_never_served(page: Page, web: Web):
    task_id = web.ids["stray"]
    page.goto(f"{web.url}/tasks/{task_id}")
    # entries 0-2 point outside the data folder (directly, through '..', an absolute system file)
    for index, which in ((0, "screenshot"), (1, "screenshot"), (2, "document")):
        response = page.request.get(f"{web.url}/tasks/{task_id}/evidence/{index}/{which}")
        assert response.status == 404
        assert PNG not in response.body()
    expect(page.locator("#evidence a.evidence-file")).to_have_count(1)  # only entry 3, inside the folder
    expect(page.locator("#evidence .missing")).to_have_count(3)
    assert page.request.get(f"{web.url}/tasks/{task_id}/evidence/3/screenshot").body() == PNG
    # a portal URL that is not http(s) is shown as text, never as a link
    expect(page.locator("#evidence a[href^='javascript']")).to_have_count(0)
    for path in (f"/tasks/{task_id}/evidence/9/screenshot", f"/tasks/{task_id}/evidence/3/document",
                 f"/tasks/{task_id}/evidence/3/screenshot_path", "/tasks/9999/evidence/0/screenshot",
                 f"/tasks/{task_id}/packets/PKT-1-x", "/static/../payerbot.db"):
        assert page.request.get(web.url + path).status == 404, path


def test_html_escapes_task_text(web: Web):
    with httpx.Client(base_url=web.url) as client:
        pages = [client.get("/"), client.get(f"/tasks/{web.ids['script']}")]
    for response in pages:
        assert response.status_code == 200
        assert "<script>" not in response.text and "<img src=x" not in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; Letter" in pages[1].text
    assert "&lt;img src=x onerror=alert(&#39;said&#39;)&gt;" in pages[1].text
    assert "DOC-&lt;b&gt;1&lt;/b&gt;" in pages[0].text


def test_worklist_pages_by_200_and_checks_the_host(web: Web):
    with session_scope(web.engine) as s:
        s.add_all([Task(kind="claim_rejected", payer_id="meridian", title=f"bulk {n}", owner="bulk-team",
                        deadline=TODAY + timedelta(days=40 + n), dedupe_key=f"bulk:{n}") for n in range(PAGE_SIZE + 5)])
    with httpx.Client(base_url=web.url) as client:
        first = client.get("/", params={"owner": "bulk-team"})
        second = client.get("/", params={"owner": "bulk-team", "page": 2})
        rebound = client.get("/", headers={"Host": "attacker.example"})
    assert first.text.count("data-task-id=") == PAGE_SIZE and "Next page" in first.text
    assert second.text.count("data-task-id=") == 5 and "Previous page" in second.text
    assert f"Showing 201–205 of {PAGE_SIZE + 5}" in second.text
    assert rebound.status_code == 400  # a DNS-rebinding page cannot read the worklist


def test_serve_refuses_a_non_loopback_address():
    with pytest.raises(ValueError, match="127.0.0.1"):
        serve(host="0.0.0.0", port=1)
