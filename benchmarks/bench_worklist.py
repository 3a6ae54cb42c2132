"""The biller's worklist query on 100k tasks: payerbot's `list_tasks` vs the same query in raw sqlite3.

Run: `.venv/bin/python -m benchmarks.bench_worklist [--tasks 100000] [--queries 300] [--repeats 3]`.
SQLite in a temporary PAYERBOT_HOME; nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert
from sqlmodel import Session

from benchmarks._common import median, print_table, ratio, timed, write_results

OWNERS = [f"biller-{n:02d}" for n in range(1, 19)] + ["ops-team", "coding-team"]
# (status, share): most tasks are open, a long tail is closed
STATUSES = [("open", 0.40), ("in_progress", 0.12), ("waiting_on_payer", 0.13), ("done", 0.30), ("cancelled", 0.05)]
KINDS = ["claim_denied", "claim_pended", "records_request", "underpaid", "correspondence_review", "unmapped_status"]
PAYERS = ["meridian", "northwind", "claimbridge"]
PRIORITIES = ["high", "normal", "normal", "normal", "low"]
INDEX = "ix_task_owner_status_deadline"

# The hand-written baseline: the same filter, order (no deadline last, then priority, then id) and limit.
BASELINE_SQL = (
    "SELECT * FROM task WHERE owner = ? AND status = ? "
    "ORDER BY deadline IS NULL, deadline, "
    "CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, id "
    "LIMIT ?"
)
# For the report only: the order the composite index can deliver without sorting.
INDEX_ORDER_SQL = "SELECT * FROM task WHERE owner = ? AND status = ? ORDER BY deadline, id LIMIT ?"
# For the report only: the same worklist in two index-friendly steps. `deadline IS NULL` as the first sort
# key hides the index order, so SQLite sorts every matching row; with `deadline IS NOT NULL` and `deadline`
# first it sorts only ties ("RIGHT PART OF ORDER BY") and stops at the limit. Undated tasks come after,
# read only when the dated ones do not fill the page.
PRIORITY = "CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
DATED_SQL = ("SELECT * FROM task WHERE owner = ? AND status = ? AND deadline IS NOT NULL "
             f"ORDER BY deadline, {PRIORITY}, id LIMIT ?")
UNDATED_SQL = f"SELECT * FROM task WHERE owner = ? AND status = ? AND deadline IS NULL ORDER BY {PRIORITY}, id LIMIT ?"


def task_rows(count: int, seed: int = 7) -> list[dict]:
    """Synthetic tasks spread across owners, statuses, kinds, payers and deadlines (5% without one)."""
    rng = random.Random(seed)
    today = date(2026, 11, 2)
    now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    statuses, weights = zip(*STATUSES, strict=True)
    rows = []
    for n in range(count):
        status = rng.choices(statuses, weights)[0]
        rows.append({
            "kind": rng.choice(KINDS), "claim_number": f"C{200000 + n}", "payer_id": rng.choice(PAYERS),
            "account": "main", "title": f"Synthetic task {n}", "payer_said": None, "action": "Review",
            "owner": rng.choice(OWNERS),
            "deadline": None if rng.random() < 0.05 else today + timedelta(days=rng.randint(-60, 120)),
            "reference_number": f"REF{n:07d}", "priority": rng.choice(PRIORITIES), "status": status,
            "evidence": [], "follow_up_date": None, "dedupe_key": f"bench:{n}",
            "created_at": now, "updated_at": now,
            "closed_reason": "bench" if status in ("done", "cancelled") else None,
            "closed_by": "bot" if status in ("done", "cancelled") else None,
        })
    return rows


def query_plan(connection: sqlite3.Connection, sql: str, params: tuple) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN lines for a statement."""
    return [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def main() -> None:
    """Build the database, time both queries, check the plan, write var/benchmarks/worklist.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="worklist queries per repetition")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-worklist-") as tmp:
        os.environ["PAYERBOT_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("PAYERBOT_DATABASE_URL", None)
        # Imported after PAYERBOT_HOME is set: the engine's URL comes from it.
        from workqueue.db import database_url, get_engine, init_db
        from workqueue.models import Task
        from workqueue.tasks import list_tasks

        engine = init_db(get_engine())
        rows = task_rows(args.tasks)
        with engine.begin() as connection:  # one transaction, executemany of a list of dicts
            insert_s, _ = timed(lambda: connection.execute(insert(Task.__table__), rows))
        db_file = database_url().removeprefix("sqlite:///")

        # Capture the SQL payerbot really sends, to ask SQLite for its plan.
        captured: list[tuple[str, tuple]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
            captured.append((statement, tuple(parameters)))

        event.listen(engine, "before_cursor_execute", capture)
        with Session(engine) as session:
            list_tasks(session, owner=OWNERS[0], status="open", limit=args.limit)
        event.remove(engine, "before_cursor_execute", capture)
        payerbot_sql, payerbot_params = captured[-1]

        raw = sqlite3.connect(db_file)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        plans = {
            "payerbot": query_plan(raw, payerbot_sql, payerbot_params),
            "baseline": query_plan(raw, BASELINE_SQL, (OWNERS[0], "open", args.limit)),
            "index_order_only": query_plan(raw, INDEX_ORDER_SQL, (OWNERS[0], "open", args.limit)),
            "two_step_rewrite": query_plan(raw, DATED_SQL, (OWNERS[0], "open", args.limit)),
        }
        for name in ("payerbot", "baseline"):
            if not any(INDEX in line for line in plans[name]):
                raise SystemExit(f"the {name} worklist query does not use {INDEX}: {plans[name]}")

        owners = [OWNERS[n % len(OWNERS)] for n in range(args.queries)]

        def run_payerbot() -> list[list[int]]:
            results = []
            for owner in owners:
                with Session(engine) as session:  # one session per request, as the web UI and CLI do
                    results.append([t.id for t in list_tasks(session, owner=owner, status="open",
                                                             limit=args.limit)])
            return results

        def run_baseline(sql: str = BASELINE_SQL) -> list[list[int]]:
            return [[row[0] for row in raw.execute(sql, (owner, "open", args.limit)).fetchall()]
                    for owner in owners]

        def run_two_step() -> list[list[int]]:
            results = []
            for owner in owners:
                ids = [row[0] for row in raw.execute(DATED_SQL, (owner, "open", args.limit)).fetchall()]
                if len(ids) < args.limit:
                    ids += [row[0] for row in raw.execute(UNDATED_SQL, (owner, "open", args.limit - len(ids)))]
                results.append(ids)
            return results

        run_payerbot(), run_baseline()  # warm the page cache and SQLAlchemy's statement cache
        times: dict[str, list[float]] = {"payerbot": [], "baseline": [], "index_order_only": [],
                                         "two_step_rewrite": []}
        for _ in range(args.repeats):
            elapsed, bot = timed(run_payerbot)
            times["payerbot"].append(elapsed)
            elapsed, base = timed(run_baseline)
            times["baseline"].append(elapsed)
            elapsed, _ = timed(lambda: run_baseline(INDEX_ORDER_SQL))
            times["index_order_only"].append(elapsed)
            elapsed, rewrite = timed(run_two_step)
            times["two_step_rewrite"].append(elapsed)
            # The ids must match task for task: same filter, same order, same limit.
            if bot != base or any(len(ids) != args.limit for ids in bot):
                raise SystemExit("payerbot and the baseline returned different worklists")
            if rewrite != base:
                raise SystemExit("the two-step rewrite returned a different worklist")
        raw.close()
        engine.dispose()

    per_query = {name: median(values) / args.queries for name, values in times.items()}
    results = {
        "tasks": args.tasks, "queries_per_repeat": args.queries, "repeats": args.repeats, "limit": args.limit,
        "bulk_insert_seconds": round(insert_s, 2),
        "ms_per_query_median": {k: round(v * 1000, 4) for k, v in per_query.items()},
        "ratios": {
            "payerbot_over_baseline": ratio(per_query["payerbot"], per_query["baseline"]),
            "baseline_over_index_order_only": ratio(per_query["baseline"], per_query["index_order_only"]),
            "baseline_over_two_step_rewrite": ratio(per_query["baseline"], per_query["two_step_rewrite"]),
        },
        "index_used": INDEX, "query_plans": plans, "payerbot_sql": " ".join(payerbot_sql.split()),
    }
    print_table(f"worklist query, {args.tasks} tasks, {args.queries} queries x {args.repeats} runs (median)",
                ["query", "ms/query", "payerbot / this"],
                [[name, per_query[name] * 1000, ratio(per_query["payerbot"], per_query[name])]
                 for name in ("payerbot", "baseline", "two_step_rewrite", "index_order_only")])
    print(f"\nbulk insert of {args.tasks} tasks: {insert_s:.2f} s")
    for name, lines in plans.items():
        print(f"plan {name}: " + " | ".join(lines))
    write_results("worklist", results)


if __name__ == "__main__":
    main()
