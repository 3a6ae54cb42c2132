"""The worklist in Chromium and over HTTP: scopes, filters and their counts against SQL, sort, pages, bulk changes."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import text
from sqlmodel import Session, select

from tests.web.conftest import TODAY, Web, sign_in
from workqueue.db import session_scope
from workqueue.models import ACTIVE_STATUSES, Claim, Task
from workqueue.web.queries import PAGE_SIZE, Filters, facet_counts, total_of, worklist_page
from workqueue.web.security import Viewer

ACTIVE = "status IN ('open','in_progress','waiting_on_payer')"
AWAKE = "(snoozed_until IS NULL OR snoozed_until <= :today)"


def _ids(page: Page) -> list[int]:
    return [int(v) for v in page.locator("#tasks tbody tr").evaluate_all("rows => rows.map(r => r.dataset.taskId)")]


def _sql_ids(web: Web, where: str, order: str = "deadline IS NULL, deadline, "
             "CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, id", **params):
    with session_scope(web.engine) as s:
        return list(s.exec(text(f"SELECT id FROM task WHERE {where} AND {AWAKE} ORDER BY {order}"),
                           params={"today": TODAY, **params}).scalars().all())


def test_scopes_filters_and_sort_show_what_sql_says(page: Page, web: Web):
    sign_in(page, web, "dana")
    assert _ids(page) == _sql_ids(web, f"owner = 'dana' AND {ACTIVE}")
    page.get_by_role("link", name="My team").click()
    # dana's team: the team's own name, its members' names and hers.
    assert _ids(page) == _sql_ids(web, f"owner IN ('dana', 'denials-team') AND {ACTIVE}")
    page.get_by_role("link", name="All tasks").click()
    assert _ids(page) == _sql_ids(web, ACTIVE)
    page.locator("#f-payer").select_option("northwind")
    page.locator("#f-sort").select_option("priority")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile("sort=priority"))
    assert _ids(page) == _sql_ids(web, f"payer_id = 'northwind' AND {ACTIVE}", order=(
        "CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, deadline IS NULL, "
        "deadline, id"))
    # The counts beside each payer are what that payer would show with the other filters as they are.
    options = page.locator("#f-payer option").all_inner_texts()
    with session_scope(web.engine) as s:
        per_payer = dict(s.exec(text(f"SELECT payer_id, COUNT(*) FROM task WHERE {ACTIVE} AND {AWAKE} "
                                     "GROUP BY payer_id"), params={"today": TODAY}).all())
    assert sorted(options[1:]) == sorted(f"{p} ({n})" for p, n in per_payer.items())
    page.locator("#f-status").select_option("all")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#showing")).to_contain_text(str(len(_sql_ids(web, "payer_id = 'northwind'"))))


def test_due_windows_and_their_counts(web: Web):
    with web.client("bea") as client:
        for window, where in {"overdue": "deadline < :today", "today": "deadline = :today",
                              "week": "deadline >= :today AND deadline <= :week",
                              "none": "deadline IS NULL"}.items():
            html = client.get(f"/?scope=all&due={window}").text
            expected = _sql_ids(web, f"{ACTIVE} AND {where}", week=TODAY + timedelta(days=6))
            assert [int(i) for i in re.findall(r'data-task-id="(\d+)"', html)] == expected, window
            shown = re.search(rf'data-due="{window}"[^>]*>[^<]*<span class="count">(\d+)</span>', html).group(1)
            assert int(shown) == len(expected), window


def test_bulk_assign_and_bulk_close_record_each_task_under_the_user(page: Page, web: Web):
    sign_in(page, web, "ada")
    page.goto(f"{web.url}/?scope=all")
    picked = [web.ids["claim_not_found"], web.ids["claim_rejected"]]
    for task_id in picked:
        page.locator(f"#pick-{task_id}").check()
    page.locator("#bulk-owner").fill("coding-team")
    page.get_by_role("button", name="Apply to ticked tasks").click()
    expect(page.locator("#flash")).to_have_text("2 of 2 task(s) changed.")
    assert [web.task(k).owner for k in ("claim_not_found", "claim_rejected")] == ["coding-team"] * 2
    assert all(web.history(k)[-1].actor == "ada" for k in ("claim_not_found", "claim_rejected"))
    # A bulk close needs a note; the login-problem task an admin may close only by clearing the block.
    for task_id in (*picked, web.ids["login"]):
        page.locator(f"#pick-{task_id}").check()
    page.locator("#bulk-status").check()
    page.locator("#bulk-status-value").select_option("cancelled")
    page.get_by_role("button", name="Apply to ticked tasks").click()
    expect(page.locator("#flash")).to_contain_text("0 of 3 task(s) changed")
    for task_id in (*picked, web.ids["login"]):
        page.locator(f"#pick-{task_id}").check()
    page.locator("#bulk-status").check()
    page.locator("#bulk-status-value").select_option("cancelled")
    page.locator("#bulk-note").fill("Duplicate of the payer's own correction")
    page.get_by_role("button", name="Apply to ticked tasks").click()
    expect(page.locator("#flash")).to_contain_text("2 of 3 task(s) changed")
    expect(page.locator("#flash")).to_contain_text("payerbot accounts clear northwind/main")
    assert [web.task(k).status for k in ("claim_not_found", "claim_rejected", "login")] == [
        "cancelled", "cancelled", "open"]
    assert {e.object_id for e in web.audit(actor="ada", action="change")} >= {str(i) for i in picked}


def test_pages_of_the_worklist(web: Web):
    with session_scope(web.engine) as s:
        for n in range(PAGE_SIZE + 5):
            s.add(Task(kind="claim_pended", payer_id="meridian", title=f"Pended {n}", owner="bea",
                       deadline=TODAY + timedelta(days=n % 9), dedupe_key=f"bulk:{n}"))
    with web.client("bea") as client:
        first = client.get("/?scope=mine").text
        second = client.get("/?scope=mine&page=2").text
    expected = _sql_ids(web, f"owner = 'bea' AND {ACTIVE}")
    ids = [int(i) for page in (first, second) for i in re.findall(r'data-task-id="(\d+)"', page)]
    assert ids == expected and len(re.findall(r'data-task-id="', first)) == PAGE_SIZE
    assert 'rel="next"' in first and 'rel="prev"' in second and f"of {len(expected)} tasks" in first


def test_facet_counts_equal_sql_for_random_filters(web: Web):
    rng = random.Random(11)
    with session_scope(web.engine) as s:
        for n in range(400):
            s.add(Task(kind=rng.choice(["claim_pended", "denial_review", "records_request"]),
                       payer_id=rng.choice(["meridian", "northwind", "claimbridge"]),
                       owner=rng.choice(["dana", "bea", "denials-team", "billing-team"]),
                       status=rng.choice(["open", "open", "in_progress", "waiting_on_payer", "done"]),
                       deadline=rng.choice([None, TODAY + timedelta(days=rng.randint(-9, 12))]),
                       snoozed_until=rng.choice([None, None, None, TODAY + timedelta(days=2), TODAY]),
                       title="t", dedupe_key=f"random:{n}"))
    viewer = Viewer("dana", "biller", "denials-team", "x", None)
    with Session(web.engine) as s:
        for _ in range(25):
            filters = Filters(scope=rng.choice(["mine", "team", "all"]), kind=rng.choice(["", "denial_review"]),
                              payer=rng.choice(["", "northwind"]), status=rng.choice(["", "all", "done", "open"]),
                              due=rng.choice(["", "overdue", "week", "none"]), snoozed=rng.choice(["", "only"]))
            counts = facet_counts(s, filters, viewer, TODAY)
            rows, total = worklist_page(s, filters, viewer, TODAY, 1)
            every = s.exec(select(Task)).all()
            matching = [t for t in every if _matches(t, filters)]
            assert total == len(matching) == total_of(counts, filters), filters
            assert sorted(t.id for t in rows) == sorted(t.id for t in matching)[:len(rows)] \
                or total > PAGE_SIZE
            for facet, values in {"payer": ("meridian", "northwind", "claimbridge"),
                                  "kind": ("claim_pended", "denial_review", "records_request"),
                                  "due": ("overdue", "today", "week", "later", "none"),
                                  "status": ("open", "done", "in_progress")}.items():
                for value in values:
                    want = len([t for t in every if _matches(t, Filters(**{**vars(filters), facet: value}))])
                    assert counts[facet].get(value, 0) == want, (filters, facet, value)


def _matches(task: Task, f: Filters) -> bool:
    """The worklist's rules, written out plainly for the check."""
    scope = {"mine": {"dana"}, "team": {"dana", "denials-team"}}.get(f.scope)
    snoozed = task.snoozed_until is not None and task.snoozed_until > TODAY
    due = ("none" if task.deadline is None else "overdue" if task.deadline < TODAY else "today"
           if task.deadline == TODAY else "week" if task.deadline <= TODAY + timedelta(days=6) else "later")
    return ((scope is None or task.owner in scope) and snoozed == (f.snoozed == "only")
            and (not f.kind or task.kind == f.kind) and (not f.payer or task.payer_id == f.payer)
            and (f.status == "all" or (task.status in ACTIVE_STATUSES if f.status == "" else task.status == f.status))
            and (not f.due or due == f.due or (f.due == "week" and due == "today")))


def test_exports_download_audited_and_safe_in_a_spreadsheet(web: Web):
    nasty = ["=HYPERLINK(\"http://evil.example\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]
    with session_scope(web.engine) as s:
        for n, value in enumerate(nasty):
            s.add(Claim(claim_number=f"X{n}", payer_id="meridian", raw_status=value, status_category="F2"))
            s.add(Task(kind="denial_review", payer_id="meridian", title=value, owner="bea", dedupe_key=f"x:{n}",
                       payer_said=value, claim_number=f"X{n}"))
    with web.client("bea") as client:
        response = client.get("/exports/claims.csv")
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = {r["claim_number"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"),
                                                                           newline=""))}
        for n, value in enumerate(nasty):
            assert rows[f"X{n}"]["payer_wording"] == "'" + value, value
        tasks = client.get("/exports/tasks.json")
        titles = {t["title"] for t in json.loads(tasks.content)}
        assert set(nasty) <= titles  # JSON is for machines: values as they are
        assert client.get("/exports/secrets.csv").status_code == 404
    assert [(e.object_id, e.actor) for e in web.audit(action="export")] == [("claims.csv", "bea"),
                                                                              ("tasks.json", "bea")]
