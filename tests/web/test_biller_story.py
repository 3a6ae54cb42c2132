"""A biller's morning in real Chromium, and an operator's: every step in the task history and the audit trail."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import text
from sqlmodel import select

from tests.web.conftest import TODAY, Web, pdf_bytes, sign_in
from workqueue.db import session_scope
from workqueue.models import AccountHistory, PortalAccount, RecordsPacket


def _row_ids(page: Page) -> list[int]:
    return [int(v) for v in page.locator("#tasks tbody tr").evaluate_all("rows => rows.map(r => r.dataset.taskId)")]


def _png() -> bytes:
    """A real 2x2 PNG (browsers must be able to draw the screenshot)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_biller_works_the_morning_and_every_step_is_recorded_under_her_name(page: Page, web: Web, tmp_path: Path):
    sign_in(page, web, "dana")
    # Her own tasks first (she owns some), then only the overdue ones.
    expect(page.locator("#scopes [aria-current]")).to_have_text("My tasks")
    page.locator('#due-windows a[data-due="overdue"]').click()
    expect(page).to_have_url(re.compile(r"due=overdue"))
    with session_scope(web.engine) as s:
        expected = s.exec(text(
            "SELECT id FROM task WHERE owner = 'dana' AND status IN ('open','in_progress','waiting_on_payer') "
            "AND deadline < :today AND (snoozed_until IS NULL OR snoozed_until <= :today) ORDER BY deadline, id"),
            params={"today": TODAY}).scalars().all()
    expect(page.locator("#tasks tbody tr")).to_have_count(len(expected))
    assert _row_ids(page) == list(expected) and web.ids["letter"] in expected and web.ids["denial_review"] in expected

    # Open the letter task and read the letter (a PDF served only to a signed-in user, never cached).
    page.locator(f'#tasks tr[data-task-id="{web.ids["letter"]}"] a', has_text="Task").click()
    expect(page.locator("#task-title")).to_have_text(re.compile("Letter"))
    href = page.locator("a.evidence-file", has_text="Document (PDF)").get_attribute("href")
    letter = page.request.get(f"{web.url}{href}")
    assert letter.status == 200 and letter.headers["content-type"] == "application/pdf"
    assert letter.headers["cache-control"] == "no-store" and letter.body().startswith(b"%PDF-")
    assert letter.body() == (web.home / "documents" / "meridian" / "letter-1.pdf").read_bytes()

    # A note, without changing the status.
    page.get_by_label("Note (the status stays as it is)").fill("Called the payer: letter is about C200 records")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#flash")).to_contain_text("Note added")
    assert web.task("letter").status == "open"
    assert web.history("letter")[-1].actor == "dana" and web.history("letter")[-1].action == "note"
    expect(page.locator("#history")).to_contain_text("Called the payer")

    # Snooze another: it drops out of the worklist until then.
    page.goto(f"{web.url}/tasks/{web.ids['claim_rejected']}")
    until = TODAY + timedelta(days=7)
    page.get_by_label("Out of the worklist until").fill(until.isoformat())
    page.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("snoozed until")
    assert web.task("claim_rejected").snoozed_until == until
    page.goto(f"{web.url}/?scope=mine")
    expect(page.locator("#tasks tbody tr").first).to_be_visible()
    assert web.ids["claim_rejected"] not in _row_ids(page) and web.ids["records_request"] in _row_ids(page)

    # Queue an upload: attach the records packet, then queue it for tonight.
    page.goto(f"{web.url}/tasks/{web.ids['records_request']}")
    packet = tmp_path / "records C200.pdf"
    packet.write_bytes(pdf_bytes("Medical records for claim C200 (synthetic)"))
    page.get_by_label("Records packet (PDF)").set_input_files(packet)
    page.get_by_role("button", name="Attach PDF").click()
    expect(page.locator("#flash")).to_contain_text("attached as draft packet")
    page.get_by_role("button", name="Queue for tonight's upload").click()
    expect(page.locator("#flash")).to_contain_text("queued")
    [stored] = web.packets()
    assert stored.status == "queued" and stored.task_id == web.ids["records_request"]

    # Close a third, with a note.
    page.goto(f"{web.url}/tasks/{web.ids['denial_review']}")
    page.locator("#status-value").select_option("done")
    page.get_by_label("Note (required for done or cancelled)").fill("Appeal faxed")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#task-status")).to_have_text("done")

    # The history names her for each change; the audit trail has every view and change, from her address.
    changes = {(key, h.action, h.field) for key in ("letter", "claim_rejected", "records_request", "denial_review")
               for h in web.history(key) if h.actor == "dana"}
    assert {("letter", "note", None), ("claim_rejected", "update", "snoozed_until"),
            ("records_request", "packet_attached", "packet"), ("records_request", "upload_queued", "packet"),
            ("denial_review", "closed", "status")} <= changes
    events = web.audit(actor="dana")
    assert {e.source for e in events} == {"web 127.0.0.1"}
    viewed = {(e.object_type, e.object_id) for e in events if e.action == "view"}
    assert {("task", str(web.ids[k])) for k in ("letter", "claim_rejected", "records_request", "denial_review")} \
        <= viewed
    assert ("letter", str(web.ids["letter"])) in viewed
    changed = [e.object_id for e in events if e.action == "change"]
    assert changed.count(str(web.ids["records_request"])) == 2 and str(web.ids["denial_review"]) in changed
    assert str(web.ids["letter"]) in changed and str(web.ids["claim_rejected"]) in changed
    assert [e.action for e in events][:1] == ["sign_in"]


def test_a_biller_is_refused_the_operator_pages_and_cannot_clear_a_block(page: Page, web: Web):
    sign_in(page, web, "dana")
    csrf = re.search(r"csrf=([\w-]+)", page.locator("form.me").get_attribute("action")).group(1)
    for path in ("/operator/", f"/operator/runs/{web.ids['run']}", "/admin/users", "/admin/audit"):
        response = page.goto(f"{web.url}{path}")
        assert response.status == 403, path
        expect(page.locator("h1")).to_have_text("Not for your role")
    expect(page.locator("nav[aria-label=Main]")).not_to_contain_text("Bot health")
    refused = page.request.post(f"{web.url}/operator/accounts/northwind/main/clear?csrf={csrf}",
                                form={"note": "I fixed it"})
    assert refused.status == 403
    # Nor can she close the login-problem task that keeps the account blocked.
    page.goto(f"{web.url}/tasks/{web.ids['login']}")
    expect(page.locator("#operator-only")).to_be_visible()
    page.locator("#status-value").select_option("done")
    page.get_by_label("Note (required for done or cancelled)").fill("fixed")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("#flash")).to_contain_text("only an operator closes it")
    with session_scope(web.engine) as s:
        assert s.get(PortalAccount, ("northwind", "main")).state == "blocked"
    assert web.task("login").status == "open"
    assert {e.object_id for e in web.audit(actor="dana", action="refused")} >= {
        "/operator/", "/admin/users", "/operator/accounts/northwind/main/clear", str(web.ids["login"])}


def test_an_operator_sees_the_failed_run_with_its_screenshot_and_clears_the_block(page: Page, web: Web):
    (web.home / "evidence" / "ab" / "shot.png").write_bytes(_png())
    sign_in(page, web, "olga")
    page.get_by_role("link", name="Bot health").click()
    run_row = page.locator(f'#runs tr[data-run-id="{web.ids["run"]}"]')
    expect(run_row.locator(".run-status")).to_have_text("failed")
    expect(page.locator('#accounts tr[data-account="northwind/main"] .account-state')).to_have_text("blocked")
    run_row.get_by_role("link").click()
    expect(page.locator("#run-status")).to_have_text("failed")
    expect(page.locator("#run-errors")).to_contain_text("northwind/main: login failed")
    shot = page.locator(f'article[data-task-id="{web.ids["login"]}"] img.screenshot')
    expect(shot).to_be_visible()
    assert shot.evaluate("img => img.complete && img.naturalWidth") == 2

    page.goto(f"{web.url}/operator/")
    row = page.locator('#accounts tr[data-account="northwind/main"]')
    row.get_by_placeholder("what was fixed").fill("Password reset with the payer's help desk")
    row.get_by_role("button", name="Clear block").click()
    expect(page.locator("#flash")).to_contain_text("northwind/main cleared")
    expect(row.locator(".account-state")).to_have_text("ok")
    with session_scope(web.engine) as s:
        assert s.get(PortalAccount, ("northwind", "main")).state == "ok"
        cleared = s.exec(select(AccountHistory).where(AccountHistory.action == "cleared")).one()
        assert cleared.actor == "olga" and "help desk" in cleared.note
        assert not s.exec(select(RecordsPacket)).all()
    assert web.task("login").status == "done" and web.task("login").closed_by == "olga"
    [event] = web.audit(action="block_cleared")
    assert (event.actor, event.role, event.object_id) == ("olga", "operator", "northwind/main")
    assert ("screenshot", str(web.ids["login"])) in {(e.object_type, e.object_id) for e in web.audit(actor="olga")}


def test_the_dashboard_numbers_equal_the_database(page: Page, web: Web):
    sign_in(page, web, "bea")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    with session_scope(web.engine) as s:
        open_by_payer = dict(s.exec(text(
            "SELECT payer_id, COUNT(*) FROM task WHERE status IN ('open','in_progress','waiting_on_payer') "
            "GROUP BY payer_id")).all())
        records = dict(s.exec(text("SELECT payer_id, COUNT(*) FROM task WHERE kind = 'records_request' "
                                   "GROUP BY payer_id")).all())
        unpaid = s.exec(text("SELECT COUNT(*) FROM claim WHERE NOT finalized AND in_inventory")).one()[0]
    shown = dict(page.locator('table[data-chart="open-by-payer"] tr[data-payer]').evaluate_all(
        "rows => rows.map(r => [r.dataset.payer, Number(r.querySelector('[data-kind=total]').dataset.value)])"))
    assert shown == open_by_payer
    shown_records = dict(page.locator('table[data-chart="records-by-payer"] tr[data-payer]').evaluate_all(
        "rows => rows.map(r => [r.dataset.payer, Number(r.querySelector('[data-field=total]').dataset.value)])"))
    assert shown_records == records
    ageing = page.locator('table[data-chart="ageing"] td[data-field="claims"]').evaluate_all(
        "cells => cells.map(c => Number(c.dataset.value))")
    assert sum(ageing) == unpaid
    assert page.locator("svg[role=img]").count() >= 5
    expect(page.locator("#main")).not_to_contain_text("NaN")
