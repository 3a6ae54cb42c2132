"""Seed a synthetic practice morning, serve the real web app, and save the docs/img/ screenshots with real Chromium."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from workqueue.web.background import BackgroundServer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
PASSWORD = "synthetic-password-1"  # every seeded user's (synthetic) password
USERS = {"dana": ("biller", "denials-team"), "bea": ("biller", "billing-team"), "raj": ("biller", "records-team"),
         "olga": ("operator", None), "ada": ("admin", None)}
# Obviously fake patients: (claim, payer, last, first, billed, expected, days since service)
PATIENTS = [
    ("C-10421", "meridian", "Sample", "Jane", "310.00", "240.00", 48),
    ("C-10422", "meridian", "Example", "Alex", "525.00", "410.00", 41),
    ("C-10435", "meridian", "Testperson", "Robin", "180.00", "150.00", 37),
    ("C-10440", "meridian", "Trial", "Taylor", "275.00", "210.00", 66),
    ("C-10447", "meridian", "Dummy", "Jordan", "95.00", "80.00", 21),
    ("C-20510", "northwind", "Placeholder", "Sam", "240.00", "190.00", 29),
    ("C-20511", "northwind", "Fictional", "Lee", "1250.00", "980.00", 95),
    ("C-20512", "northwind", "Demo", "Kim", "180.00", "180.00", 58),
    ("C-20519", "northwind", "Mockup", "Avery", "410.00", "320.00", 133),
    ("C-30007", "claimbridge", "Mock", "Casey", "150.00", "120.00", 17),
    ("C-30008", "claimbridge", "Specimen", "Morgan", "640.00", "500.00", 74),
    ("C-30012", "claimbridge", "Notreal", "Quinn", "220.00", "175.00", 12),
]
FAKE_LOGIN_PAGE = """<!doctype html><html><body style="font-family:sans-serif;margin:0;background:#f4f6f8">
<div style="background:#1d4e89;color:#fff;padding:14px 24px;font-size:20px">Northwind Health Plan &middot; Provider
portal <span style="font-size:12px;opacity:.8">(synthetic sandbox)</span></div>
<div style="width:360px;margin:40px auto;background:#fff;padding:24px;border:1px solid #ccd">
<h2 style="margin-top:0">Provider sign in</h2>
<div style="background:#fde8e8;color:#8a1c1c;padding:10px;border:1px solid #f2b8b8;margin-bottom:12px">
The user ID or password you entered is incorrect.</div>
<label>User ID</label><div style="border:1px solid #999;height:28px;margin:4px 0 12px;padding:4px">billing01</div>
<label>Password</label><div style="border:1px solid #999;height:28px;margin:4px 0 12px"></div>
<div style="background:#1d4e89;color:#fff;padding:8px;text-align:center">Sign in</div></div></body></html>"""
FAKE_CHANGED_PAGE = """<!doctype html><html><body style="font-family:sans-serif;margin:0">
<div style="background:#3b7a57;color:#fff;padding:14px 24px;font-size:20px">ClaimBridge Clearinghouse
<span style="font-size:12px;opacity:.8">(synthetic sandbox)</span></div>
<div style="padding:24px"><h2>Claim inquiry &mdash; new look!</h2><p>We have redesigned this page.</p>
<div style="display:flex;gap:16px"><div style="border:1px solid #ccc;padding:16px;width:220px">Claim C-30012</div>
<div style="border:1px solid #ccc;padding:16px;width:220px">Status: see details</div></div></div></body></html>"""


def fresh_home() -> Path:
    """A temporary PAYERBOT_HOME, with no outside settings leaking in."""
    home = Path(tempfile.mkdtemp(prefix="payerbot-docs-")) / "home"
    home.mkdir()
    os.environ["PAYERBOT_HOME"] = str(home)
    for name in ("PAYERBOT_DATABASE_URL", "PAYERBOT_RULES", "PAYERBOT_WEB_TRUSTED_HEADER",
                 "PAYERBOT_WEB_TRUSTED_PROXIES", "PAYERBOT_WEB_IDLE_MINUTES", "PAYERBOT_WEB_SESSION_MINUTES"):
        os.environ.pop(name, None)
    return home


def pdf_bytes(lines: list[str]) -> bytes:
    """A small real PDF with a few lines of text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_png(browser, html: str, path: Path) -> None:
    """A fake portal page rendered to PNG (the evidence a failed run leaves behind)."""
    page = browser.new_page(viewport={"width": 760, "height": 420})
    page.set_content(html)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.close()


def seed(engine, home: Path, browser, today: date) -> dict[str, int]:
    """Five nights of bot runs over twelve claims at three payers, tasks of many kinds with owners, deadlines and
    reference numbers, a records letter and a draft packet, a failed last night that blocked northwind/main."""
    from sqlmodel import col, select

    from bots.evidence import to_stored
    from bots.findings import Adjustment, ClaimStatusFinding, PortalProblem, Provenance
    from workqueue.db import session_scope
    from workqueue.models import BotRun, Claim, Document, Task, TaskHistory
    from workqueue.persist import persist_findings
    from workqueue.runs import finish_run, start_run
    from workqueue.tasks import add_note, assign, attach_packet, set_status, snooze
    from workqueue.users import add_user

    login_shot = home / "evidence" / "4f" / "northwind-login.png"
    changed_shot = home / "evidence" / "9c" / "claimbridge-inquiry.png"
    render_png(browser, FAKE_LOGIN_PAGE, login_shot)
    render_png(browser, FAKE_CHANGED_PAGE, changed_shot)
    letter = home / "documents" / "meridian" / "records-request-C-10422.pdf"
    letter.parent.mkdir(parents=True)
    letter.write_bytes(pdf_bytes(["Meridian Health Plan (SYNTHETIC SAMPLE)", "Request for medical records",
                                  "Claim C-10422 - patient Alex Example (fictional)",
                                  "Document control number DCN-55820",
                                  f"Please respond by {today + timedelta(days=9)}"]))
    started = datetime.now(UTC)
    nights = [datetime.combine(today - timedelta(days=k), datetime.min.time(), tzinfo=UTC)
              + timedelta(hours=1, minutes=5) for k in (5, 4, 3, 2, 1, 0)]
    nights = [n if n < started else started - timedelta(minutes=30) for n in nights]

    def finding(claim: str, payer: str, category: str, raw: str, when: datetime, **kw) -> ClaimStatusFinding:
        prov = Provenance(payer_id=payer, account="main", url=f"https://{payer}.portal.example/claims/{claim}",
                          observed_at=when, screenshot_path=None)
        return ClaimStatusFinding(claim_number=claim, raw_status=raw, status_category=category,
                                  payer_claim_number=f"ICN-{payer[:2].upper()}{claim[2:]}", provenance=prov, **kw)

    def denial(carc: str, amount: str, adjudicated: date) -> dict:
        return {"paid": Decimal("0.00"), "adjudication_date": adjudicated, "carc_codes": [carc],
                "adjustments": [Adjustment(group_code="CO", carc=carc, amount=Decimal(amount))]}

    def redate(session, when: datetime) -> None:
        """Tasks and history written just now happened during that night's run."""
        for task in session.exec(select(Task).where(col(Task.created_at) >= started)).all():
            task.created_at = task.updated_at = when
            session.add(task)
        for row in session.exec(select(TaskHistory).where(col(TaskHistory.at) >= started)).all():
            row.at = when
            session.add(row)
        session.flush()

    plan = {  # night index -> findings
        0: [("C-10421", "meridian", "P1", "In Process", {}), ("C-10422", "meridian", "P1", "In Process", {}),
            ("C-10435", "meridian", "P3", "Pended - Medical Records Requested", {}),
            ("C-20511", "northwind", "F2", "Denied", denial("197", "1250.00", today - timedelta(days=6))),
            ("C-20519", "northwind", "P1", "Received - In Review", {})],
        1: [("C-10440", "meridian", "F2", "Denied - Not Medically Necessary",
             denial("50", "275.00", today - timedelta(days=5))),
            ("C-30008", "claimbridge", "A3", "Rejected - Invalid Subscriber ID", {}),
            ("C-20510", "northwind", "P1", "Received - In Review", {})],
        2: [("C-10435", "meridian", "F1", "Paid", {"paid": Decimal("150.00"),
                                                     "adjudication_date": today - timedelta(days=3)}),
            ("C-20512", "northwind", "F1", "Paid", {"paid": Decimal("112.40"),
                                                      "adjudication_date": today - timedelta(days=3),
                                                      "check_number": "EFT-884201"}),
            ("C-20519", "northwind", "F2", "Denied", denial("29", "410.00", today - timedelta(days=3)))],
        3: [("C-10422", "meridian", "P3", "Pended - Medical Records Requested", {"reference_number": "DCN-55820"}),
            ("C-30007", "claimbridge", "D0", "No claim on file", {"reference_number": "SRCH-77104"}),
            ("C-10447", "meridian", "P1", "In Process", {})],
        4: [("C-10421", "meridian", "F2", "Denied - Not Medically Necessary",
             denial("50", "310.00", today - timedelta(days=2))),
            ("C-20510", "northwind", "A3", "Rejected - Invalid Member ID", {}),
            ("C-30012", "claimbridge", "P1", "Accepted by payer", {})],
    }
    ids: dict[str, int] = {}
    with session_scope(engine) as s:
        for name, (role, team) in USERS.items():
            add_user(s, name, role, PASSWORD, team=team)
        for number, payer, last, first, billed, expected, days in PATIENTS:
            s.add(Claim(claim_number=number, payer_id=payer, member_id=f"ZZ{number[2:]}{payer[0].upper()}",
                        billed_amount=Decimal(billed), expected_amount=Decimal(expected),
                        date_of_service=today - timedelta(days=days), submitted_date=today - timedelta(days=days - 4),
                        patient_last_name=last, patient_first_name=first, procedure_codes="99213;36415", units="1;1"))
        s.flush()
        for index, when in enumerate(nights[:5]):
            run_id = start_run(s, flow_run_id=None, payer_ids=["meridian", "northwind", "claimbridge"])
            found = [finding(c, p, cat, raw, when + timedelta(minutes=3 + n), **kw)
                     for n, (c, p, cat, raw, kw) in enumerate(plan[index])]
            persist_findings(s, found, run_id=run_id)
            finish_run(s, run_id, counts={"claims_checked": 11, "findings_stored": len(found), "letters": 1},
                       errors=[], status="succeeded")
            run = s.get(BotRun, run_id)
            run.started_at, run.finished_at = when, when + timedelta(minutes=38 + index)
            run.duration_s = (run.finished_at - run.started_at).total_seconds()
            s.add(run)
            redate(s, when + timedelta(minutes=5))
        # Last night: northwind refused the password (the account is now blocked) and ClaimBridge changed a page.
        when = nights[5]
        run_id = start_run(s, flow_run_id=None, payer_ids=["meridian", "northwind", "claimbridge"])
        persist_findings(s, [
            finding("C-10447", "meridian", "F1", "Paid", when + timedelta(minutes=4), paid=Decimal("80.00"),
                    adjudication_date=today - timedelta(days=1)),
            PortalProblem(error_type="LoginFailed", message="The portal refused the user ID or password",
                          during_login=True,
                          provenance=Provenance(payer_id="northwind", account="main",
                                                url="https://northwind.portal.example/login",
                                                observed_at=when + timedelta(minutes=2),
                                                screenshot_path=to_stored(login_shot, home))),
            PortalProblem(error_type="PortalChanged", message="The claim inquiry page has no status table",
                          claim_number="C-30012",
                          provenance=Provenance(payer_id="claimbridge", account="main",
                                                url="https://claimbridge.portal.example/inquiry",
                                                observed_at=when + timedelta(minutes=9),
                                                screenshot_path=to_stored(changed_shot, home))),
        ], run_id=run_id)
        finish_run(s, run_id, counts={"claims_checked": 3, "findings_stored": 1},
                   status="failed", errors=[{"payer_id": "northwind", "account": "main", "error": "login_failed"},
                                            {"payer_id": "claimbridge", "account": "main", "error": "portal_changed"}])
        run = s.get(BotRun, run_id)
        run.started_at, run.finished_at = when, when + timedelta(minutes=14)
        run.duration_s = 14 * 60.0
        s.add(run)
        redate(s, when + timedelta(minutes=5))
        ids["run"] = run_id

        tasks = {(t.kind, t.claim_number): t for t in s.exec(select(Task)).all()}
        print("tasks seeded:", sorted(f"{k}:{c}:{t.status}" for (k, c), t in tasks.items()))
        document = Document(payer_id="meridian", portal_document_id="MHP-DOC-55820",
                            title="Request for medical records",
                            letter_date=today - timedelta(days=2), stored_path=to_stored(letter, home),
                            original_file_name="records-request-C-10422.pdf", claim_number="C-10422",
                            doc_type="records_request", sha256=hashlib.sha256(letter.read_bytes()).hexdigest())
        letter_task = Task(kind="correspondence_review", payer_id="northwind", claim_number="C-20511",
                           title="Letter: appeal acknowledgement", payer_said="We received your appeal (synthetic).",
                           owner="billing-team", deadline=today - timedelta(days=2), priority="low",
                           reference_number="APL-30391", dedupe_key="correspondence_review:northwind:APL-30391",
                           action="Read the letter and note the appeal reference.")
        s.add_all([document, letter_task])
        s.flush()
        plan_owner = {("denial_review", "C-10421"): ("dana", None), ("records_request", "C-10422"): ("dana", 9),
                      ("claim_rejected", "C-20510"): ("dana", -1), ("denial_review", "C-20511"): ("dana", 0),
                      ("underpayment_review", "C-20512"): ("bea", 3), ("claim_not_found", "C-30007"): ("bea", 2),
                      ("denial_review", "C-10440"): ("denials-team", None), ("denial_review", "C-20519"): ("dana", -3)}
        for key, (owner, days) in plan_owner.items():
            task = tasks.get(key)
            if task is None:
                continue
            assign(s, task.id, owner, actor="bea")
            if days is not None:
                task.deadline = today + timedelta(days=days)
                s.add(task)
        records = tasks[("records_request", "C-10422")]
        records.evidence = [*(records.evidence or []),
                            {"source": "letter", "document_path": to_stored(letter, home),
                             "observed_at": (nights[3] + timedelta(minutes=7)).isoformat()}]
        records.reference_number = "DCN-55820"
        s.add(records)
        assign(s, letter_task.id, "dana", actor="dana")
        add_note(s, records.id, "Asked the front desk for the visit notes and the lab results.", actor="dana")
        packet = home.parent / "records-packet-C-10422.pdf"
        packet.write_bytes(pdf_bytes(["Records packet (SYNTHETIC SAMPLE)", "Claim C-10422, DCN-55820",
                                      "Visit notes and lab results - fictional"]))
        attach_packet(s, records.id, packet, actor="dana")
        set_status(s, tasks[("claim_rejected", "C-20510")].id, "in_progress", actor="dana",
                   note="Member id on the card is ZZ20510N-01; corrected in the practice system.")
        rejected_cb = tasks.get(("claim_rejected", "C-30008"))
        if rejected_cb is not None:
            set_status(s, rejected_cb.id, "done", actor="bea", note="Resubmitted with the corrected subscriber id.")
        snooze(s, tasks[("denial_review", "C-10440")].id, today + timedelta(days=4), actor="dana", today=today)
        ids.update(records=records.id, denial=tasks[("denial_review", "C-10421")].id, letter=letter_task.id)
    return ids


def save(target, name: str, *, max_height: int = 1500) -> None:
    """A screenshot of a page (top part) or a locator, squeezed to a 256-colour PNG."""
    from PIL import Image

    if hasattr(target, "goto"):
        height = min(max_height, target.evaluate("document.documentElement.scrollHeight"))
        raw = target.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height})
    else:
        raw = target.screenshot()
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path = OUT / f"{name}.png"
    image.save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def main() -> int:
    home = fresh_home()
    from playwright.sync_api import expect, sync_playwright

    from bots.browser import launch_options
    from workqueue.db import get_engine, init_db
    from workqueue.web.app import create_app
    from workqueue.web.settings import WebSettings

    OUT.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(**launch_options(pw, headless=True))
            engine = init_db(get_engine(f"sqlite:///{home / 'payerbot.db'}"))
            ids = seed(engine, home, browser, today)
            app = create_app(engine, today=lambda: today, settings=WebSettings())
            with BackgroundServer(app, name="docs-web") as server:
                def session_as(user: str, password: str = PASSWORD):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(f"{server.url}/login")
                    page.get_by_label("User name").fill(user)
                    page.get_by_label("Password").fill(password)
                    page.get_by_role("button", name="Sign in").click()
                    expect(page.locator("#signed-in-as")).to_contain_text(user)
                    return context, page

                # The sign-in page, as a biller sees it after the idle sign-out.
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{server.url}/login?why=idle")
                save(page, "sign-in", max_height=520)
                page.get_by_label("User name").fill("dana")
                page.get_by_label("Password").fill("not-the-password")  # one refusal, for the audit trail
                page.get_by_role("button", name="Sign in").click()
                context.close()

                context, page = session_as("dana")
                page.goto(f"{server.url}/?scope=mine")
                save(page, "worklist", max_height=1250)
                page.goto(f"{server.url}/?scope=mine&due=overdue")
                save(page, "worklist-overdue", max_height=900)
                page.goto(f"{server.url}/tasks/{ids['records']}")
                save(page, "task", max_height=2400)
                page.goto(f"{server.url}/claims?q=Example")
                save(page, "claim-search", max_height=480)
                page.goto(f"{server.url}/claims/C-10422")
                save(page, "claim", max_height=1600)
                page.goto(f"{server.url}/dashboard")
                save(page, "dashboard", max_height=2600)
                page.goto(f"{server.url}/exports")
                save(page, "exports", max_height=1100)
                context.close()

                context, page = session_as("olga")
                page.goto(f"{server.url}/operator/")
                save(page, "operator", max_height=1500)
                page.goto(f"{server.url}/operator/runs/{ids['run']}")
                page.wait_for_load_state("networkidle")
                save(page, "bot-run", max_height=1700)
                context.close()

                context, page = session_as("ada")
                page.goto(f"{server.url}/admin/users")
                save(page, "users", max_height=1100)
                page.goto(f"{server.url}/admin/audit")
                save(page, "audit", max_height=1300)
                context.close()
            browser.close()
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    total = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(f"total {total // 1024} KB in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
