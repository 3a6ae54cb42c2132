"""The web worklist's first page on 100k tasks: full HTTP GETs vs the in-process queries vs one raw SELECT.

Run: `.venv/bin/python -m benchmarks.bench_web_worklist [--tasks 100000] [--requests 50]`.
SQLite in a temporary PAYERBOT_HOME; the real app (create_app) under uvicorn on 127.0.0.1, signed in through
the real form with httpx. Nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
from sqlalchemy import insert
from sqlmodel import Session

from benchmarks._common import median, print_table, ratio, timed, write_results
from workqueue.web.background import BackgroundServer

TODAY = date(2026, 11, 2)
PASSWORD = "synthetic-password-1"
BUDGET_MS = 200.0
# 20 owners: 16 billers (users below), two team names and two other queues.
OWNERS = [f"biller-{n:02d}" for n in range(1, 17)] + ["denials-team", "billing-team", "ops-team", "coding-team"]
# (name, team): the first four billers are the denials team, the next four the billing team.
USERS = [(f"biller-{n:02d}", "denials-team" if n <= 4 else "billing-team" if n <= 8 else None) for n in range(1, 17)]
# (status, share): most tasks are active, a long tail is closed
STATUSES = [("open", 0.45), ("in_progress", 0.13), ("waiting_on_payer", 0.14), ("done", 0.24), ("cancelled", 0.04)]
KINDS = ["claim_denied", "claim_pended", "records_request", "underpaid", "correspondence_review", "unmapped_status",
         "claim_rejected", "portal_error"]
PAYERS = ["meridian", "northwind", "claimbridge", "sunrise"]
PRIORITIES = ["high", "normal", "normal", "normal", "low"]
VIEWER = "biller-01"
# The views a biller really opens; every one is the first page (100 tasks).
VIEWS = {
    "default (mine)": "/",
    "all": "/?scope=all",
    "team": "/?scope=team",
    "all, overdue": "/?scope=all&due=overdue",
    "all, kind+payer": "/?scope=all&kind=records_request&payer=meridian",
    "all, by priority": "/?scope=all&sort=priority",
    "all, any status": "/?scope=all&status=all",
    "all, search C12": "/?scope=all&q=C12",
}
TASK_LINK = re.compile(r'href="[^"]*/tasks/(\d+)"')


def task_rows(count: int, seed: int = 11) -> list[dict]:
    """Synthetic tasks over owners, statuses, kinds, payers, priorities; deadlines -60..+120 days around TODAY
    (5% without one); claim numbers spread over C100000-C999999 (unique);
    2% snoozed into the future, 1% with a snooze that has already ended."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    statuses, weights = zip(*STATUSES, strict=True)
    rows = []
    for n in range(count):
        status = rng.choices(statuses, weights)[0]
        snooze = rng.random()
        rows.append({
            "kind": rng.choice(KINDS), "claim_number": f"C{100000 + n * 7919 % 900000}", "payer_id": rng.choice(PAYERS),
            "account": "main", "title": f"Synthetic task {n}", "payer_said": None, "action": "Review",
            "owner": rng.choice(OWNERS),
            "deadline": None if rng.random() < 0.05 else TODAY + timedelta(days=rng.randint(-60, 120)),
            "reference_number": f"REF{n:07d}", "priority": rng.choice(PRIORITIES), "status": status,
            "evidence": [], "follow_up_date": None, "dedupe_key": f"bench:{n}",
            "created_at": now, "updated_at": now,
            "closed_reason": "bench" if status in ("done", "cancelled") else None,
            "closed_by": "bot" if status in ("done", "cancelled") else None,
            "snoozed_until": (TODAY + timedelta(days=rng.randint(1, 14)) if snooze < 0.02
                              else TODAY - timedelta(days=rng.randint(0, 10)) if snooze < 0.03 else None),
        })
    return rows


# The hand-written baseline: the same page as one SELECT ... ORDER BY ... LIMIT 100 on raw sqlite3.
PRIORITY_SQL = "CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
ACTIVE_SQL = "status IN ('open', 'in_progress', 'waiting_on_payer')"


def raw_page_sql(params: dict[str, str], scope: str, team: list[str]) -> tuple[str, list]:
    """The worklist's first page as hand-written SQL: scope, snooze, search, filters, order, limit."""
    where, args = ["(snoozed_until IS NULL OR snoozed_until <= ?)"], [TODAY.isoformat()]
    if scope == "mine":
        where.append("owner = ?")
        args.append(VIEWER)
    elif scope == "team":
        where.append(f"owner IN ({', '.join('?' * len(team))})")
        args += team
    if params.get("q"):
        where.append("(claim_number LIKE ? ESCAPE '\\' OR reference_number LIKE ? ESCAPE '\\')")
        args += [f"%{params['q']}%"] * 2
    for name, column in (("kind", "kind"), ("payer", "payer_id"), ("owner", "owner")):
        if params.get(name):
            where.append(f"{column} = ?")
            args.append(params[name])
    status = params.get("status", "")
    if status == "":
        where.append(ACTIVE_SQL)
    elif status != "all":
        where.append("status = ?")
        args.append(status)
    if params.get("due") == "overdue":
        where.append("deadline < ?")
        args.append(TODAY.isoformat())
    if params.get("sort") == "priority":
        order = f"{PRIORITY_SQL}, deadline IS NULL, deadline, id"
    else:
        order = f"deadline IS NULL, deadline, {PRIORITY_SQL}, id"
    return f"SELECT * FROM task WHERE {' AND '.join(where)} ORDER BY {order} LIMIT 100", args


def sign_in(client: httpx.Client, user: str) -> None:
    """Through the real form: the CSRF token comes from the login page's form action."""
    page = client.get("/login")
    token = re.search(r'/login\?csrf=([^"&]+)"', page.text)
    if not token:
        raise SystemExit("no sign-in form token on /login")
    response = client.post(f"/login?csrf={token.group(1)}", data={"username": user, "password": PASSWORD})
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: {response.status_code} {response.text[:300]}")


def p95(values: list[float]) -> float:
    """The 95th percentile (inclusive method; with 50 samples, between the 47th and 48th)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> None:
    """Build the database, start the app, time every view three ways, write var/benchmarks/web_worklist.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per view (after warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-worklist-") as tmp:
        os.environ["PAYERBOT_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("PAYERBOT_DATABASE_URL", None)
        # Imported after PAYERBOT_HOME is set: the engine's URL and the app's home come from it.
        from workqueue.db import database_url, get_engine, init_db, session_scope
        from workqueue.models import Task
        from workqueue.users import add_user
        from workqueue.web.app import create_app
        from workqueue.web.queries import (
            checked_filters,
            default_scope,
            facet_counts,
            team_owners,
            total_of,
            worklist_page,
        )
        from workqueue.web.security import Viewer

        engine = init_db(get_engine())
        rows = task_rows(args.tasks)
        with engine.begin() as connection:  # one transaction, executemany of a list of dicts
            insert_s, _ = timed(lambda: connection.execute(insert(Task.__table__), rows))
        with session_scope(engine) as session:
            for name, team in USERS:
                add_user(session, name, "biller", PASSWORD, team=team)
        db_file = database_url().removeprefix("sqlite:///")
        viewer = Viewer(name=VIEWER, role="biller", team="denials-team", csrf="", address=None)
        with Session(engine) as session:
            team = team_owners(session, viewer)
            mine_default = default_scope(session, viewer)

        raw = sqlite3.connect(db_file)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")

        def in_process(path: str) -> list[int]:
            """What the route asks of queries.py: the page and the counts, in a new session as each request."""
            params = dict(parse_qsl(path.partition("?")[2]))
            with Session(engine) as session:
                filters = checked_filters(params, params.get("scope") or default_scope(session, viewer))
                counts = facet_counts(session, filters, viewer, TODAY)
                tasks, _total = worklist_page(session, filters, viewer, TODAY, 1, total=total_of(counts, filters))
            return [t.id for t in tasks]

        def baseline(path: str) -> list[int]:
            params = dict(parse_qsl(path.partition("?")[2]))
            sql, sql_args = raw_page_sql(params, params.get("scope") or mine_default, team)
            return [row[0] for row in raw.execute(sql, sql_args).fetchall()]

        app = create_app(engine, today=lambda: TODAY)
        times: dict[str, dict[str, list[float]]] = {view: {"http": [], "in_process": [], "raw_sql": []}
                                                    for view in VIEWS}
        sizes: dict[str, int] = {}
        with (BackgroundServer(app, name="bench-web") as server,
              httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as client):
            sign_in(client, VIEWER)

            def http(path: str) -> list[int]:
                response = client.get(path)
                if response.status_code != 200:
                    raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
                sizes[path] = len(response.content)
                return [int(n) for n in TASK_LINK.findall(response.text)]

            # Correctness first: the three must show the same 100 tasks in the same order.
            for view, path in VIEWS.items():
                expected = baseline(path)
                if not expected:
                    raise SystemExit(f"{view}: the baseline page is empty")
                if in_process(path) != expected:
                    raise SystemExit(f"{view}: worklist_page and the raw SQL disagree on the page")
                if list(dict.fromkeys(http(path))) != expected:
                    raise SystemExit(f"{view}: the HTTP page does not list the raw SQL's tasks in its order")
            for view, path in VIEWS.items():
                for _ in range(args.warmup):
                    http(path), in_process(path), baseline(path)
                # Interleaved request by request: a burst of load on the shared machine hits all three alike.
                for _ in range(args.requests):
                    for contender, run in (("http", http), ("in_process", in_process), ("raw_sql", baseline)):
                        elapsed, _ = timed(lambda run=run, path=path: run(path))
                        times[view][contender].append(elapsed * 1000)
        raw.close()
        engine.dispose()

    summary = {}
    table = []
    for view, path in VIEWS.items():
        t = times[view]
        row = {"path": path, "html_bytes": sizes[path],
               **{f"{c}_median_ms": round(median(t[c]), 2) for c in t},
               **{f"{c}_p95_ms": round(p95(t[c]), 2) for c in t}}
        row["http_over_raw_sql"] = ratio(row["http_median_ms"], row["raw_sql_median_ms"])
        row["in_process_over_raw_sql"] = ratio(row["in_process_median_ms"], row["raw_sql_median_ms"])
        row["under_200_ms"] = row["http_median_ms"] < BUDGET_MS
        summary[view] = row
        table.append([view, row["http_median_ms"], row["http_p95_ms"], row["in_process_median_ms"],
                      row["in_process_p95_ms"], row["raw_sql_median_ms"], row["http_over_raw_sql"],
                      row["in_process_over_raw_sql"], "yes" if row["under_200_ms"] else "NO"])
    print_table(f"worklist first page, {args.tasks} tasks, {args.requests} requests per view (ms)",
                ["view", "http med", "http p95", "queries med", "queries p95", "raw SQL med", "http / raw",
                 "queries / raw", "< 200 ms"], table)
    print(f"\nbulk insert of {args.tasks} tasks: {insert_s:.2f} s; load average {os.getloadavg()[0]:.1f}")
    write_results("web_worklist", {
        "tasks": args.tasks, "requests_per_view": args.requests, "warmup": args.warmup, "viewer": VIEWER,
        "today": TODAY.isoformat(), "bulk_insert_seconds": round(insert_s, 2), "budget_ms": BUDGET_MS,
        "load_average": os.getloadavg(), "views": summary, "samples_ms": times,
    })


if __name__ == "__main__":
    main()
