"""The manager's dashboard: every number against raw SQL or the seed by hand; charts escape and draw; the page."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from bots.findings import Adjustment, ServiceLine
from tests.workqueue.conftest import add_claim, status
from workqueue.dashboard import dashboard_data, finding_carcs
from workqueue.db import get_engine, init_db
from workqueue.models import BotRun, StatusFinding, Task, TaskHistory
from workqueue.web import charts as ch
from workqueue.web.render import make_templates

TODAY = date(2026, 3, 10)
EVIL = '<script>alert("x")</script>'
EVIL_ATTR = '" onerror="alert(1)'
EVIL_IMG = "<img src=x onerror=alert(1)>"
TEMPLATES = Path(__file__).resolve().parents[2] / "workqueue" / "web" / "templates"


def at(day: int, hour: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def db(home, tmp_path):
    """A fresh SQLite database file (PAYERBOT_HOME is the test's own)."""
    engine = get_engine(f"sqlite:///{tmp_path}/q.db")
    init_db(engine)
    return engine


_n = iter(range(1, 10_000))


def task(s: Session, payer: str, kind: str, status_: str = "open", *, created: datetime | None = None,
         updated: datetime | None = None, evidence: list | None = None) -> Task:
    n = next(_n)
    created = created or at(1)
    row = Task(kind=kind, payer_id=payer, title=f"T{n}", owner="team", status=status_, dedupe_key=f"k{n}",
               created_at=created, updated_at=updated or created, evidence=evidence or [])
    s.add(row)
    s.flush()
    return row


def history(s: Session, task_id: int, when: datetime, new: str, *, field: str = "status", old: str = "open") -> None:
    s.add(TaskHistory(task_id=task_id, at=when, action="closed", field=field, old=old, new=new))


def lines(*adjustments: tuple[str, str | None], codes: list[str] | None = None) -> list[ServiceLine]:
    """One service line per adjustment (CARC, amount)."""
    out = []
    for n, (carc, amount) in enumerate(adjustments, start=1):
        out.append(ServiceLine(line_number=n, procedure_code="97110",
                               adjustments=[Adjustment(group_code="CO", carc=carc, amount=amount)]))
    if codes:
        out.append(ServiceLine(line_number=len(out) + 1, procedure_code="97140", carc_codes=codes))
    return out


def finding(s: Session, claim: str, when: datetime, run: int | None, *, payer: str = "meridian", raw: str = "Denied",
            service_lines: list | None = None, **kw) -> StatusFinding:
    f = status(claim, "F2", raw, payer=payer, when=when, service_lines=service_lines or [], **kw)
    row = StatusFinding(claim_number=claim, payer_id=payer, status_category="F2", raw_status=raw,
                        fingerprint=f"fp-{next(_n)}", observed_at=when, run_id=run, finding=f.model_dump(mode="json"))
    s.add(row)
    s.flush()
    return row


def run(s: Session, started: datetime, payers: list[str], *, errors: list | None = None,
        skipped: dict | None = None) -> int:
    row = BotRun(started_at=started, finished_at=started, payers=payers, errors=errors or [],
                 counts={"findings_stored": 1, "skipped": skipped or {}}, status="failed" if errors else "completed")
    s.add(row)
    s.flush()
    return row.id


@pytest.fixture
def seeded(db):
    """Tasks, claims, findings with CARC adjustments, task history and four nights of runs."""
    with Session(db, expire_on_commit=False) as s:
        # -- claims for ageing (TODAY = 03/10/2026) --
        add_claim(s, "C1", submitted_date=date(2026, 3, 1), billed_amount=Decimal("100.00"))  # 9 days
        add_claim(s, "C2", submitted_date=None, date_of_service=date(2026, 1, 20),
                  billed_amount=Decimal("250.50"))  # 49 days from the date of service
        add_claim(s, "C3", submitted_date=date(2025, 12, 20), billed_amount=Decimal("1000.00"))  # 80
        add_claim(s, "C4", submitted_date=date(2025, 11, 15), billed_amount=Decimal("10.25"))  # 115
        add_claim(s, "C5", submitted_date=date(2025, 6, 1), billed_amount=Decimal("5000.00"))  # 282
        add_claim(s, "C6", submitted_date=None, date_of_service=None, billed_amount=Decimal("7.00"))  # no date
        add_claim(s, "C7", submitted_date=date(2026, 3, 2), billed_amount=Decimal("999.00"), finalized=True)
        add_claim(s, "C8", submitted_date=date(2026, 3, 2), billed_amount=Decimal("888.00"), in_inventory=False)
        add_claim(s, "C9", submitted_date=date(2026, 3, 15), billed_amount=None)  # future: 0 days, $0
        add_claim(s, "C10", submitted_date=date(2026, 2, 8), billed_amount=Decimal("0.10"))  # exactly 30
        add_claim(s, "C11", submitted_date=date(2026, 2, 7), billed_amount=Decimal("0.20"))  # 31
        add_claim(s, "C12", submitted_date=date(2025, 11, 10), date_of_service=date(2026, 3, 1),
                  billed_amount=Decimal("1.00"))  # submitted wins over service: exactly 120
        for n in range(1, 5):  # denied claims: finalized, so outside ageing
            add_claim(s, f"D{n}", payer="northwind" if n == 3 else "meridian", finalized=True,
                      submitted_date=date(2026, 1, 1), billed_amount=Decimal("500.00"))
        # -- runs: nights 02/20, 03/07, 03/08, 03/09 (two runs) --
        r0 = run(s, at(20, month=2), ["meridian"])
        r1 = run(s, at(7), ["meridian", "northwind"],
                 errors=[{"payer_id": "northwind", "account": "main", "error": "PortalChanged"}])
        r2 = run(s, at(8), ["meridian"], skipped={"northwind/main": "held by another run"})
        r3 = run(s, at(9), ["meridian", "northwind"])
        r4 = run(s, at(9, 14), ["northwind"])
        # -- findings --
        finding(s, "D1", at(7, 3), r1, raw="Denied", service_lines=lines(("50", "200.00"), ("45", "30.00")))
        finding(s, "D1", at(9, 3), r3, raw="Denied again", service_lines=lines(("50", "200.00"), ("45", "30.00")))
        finding(s, "D2", at(5, 3), None, raw="Denied auth", service_lines=lines(("197", "120.00")))
        finding(s, "D2", at(8, 3), r2, raw="Denied", service_lines=lines(("50", "120.00")))
        finding(s, "D3", at(9, 15), r4, payer="northwind", service_lines=lines(codes=["16"]))  # code, no amount
        finding(s, "D3", at(1, 3), None, payer="northwind", raw="Late", service_lines=lines(("29", "70.00")))
        finding(s, "D4", at(6, 3), None, raw="First", service_lines=lines(("96", "50.00")))
        finding(s, "D4", at(6, 3), None, raw="Same time", service_lines=lines(("50", "80.00")))  # tie: newer id
        finding(s, "C1", at(9, 4), r3, raw="Pending", service_lines=[])
        # -- tasks --
        task(s, "meridian", "records_request", created=at(9, 23))
        task(s, "meridian", "records_request", "in_progress", created=at(8))
        task(s, "meridian", "records_request", "waiting_on_payer", created=at(25, month=2))
        done = task(s, "meridian", "records_request", "done", created=at(24, month=2))  # outside the 14 days
        task(s, "meridian", "claim_denied", created=at(10, 23))
        task(s, "meridian", "portal_problem", created=at(7),
             updated=at(9, 5), evidence=[{"source": "portal_problem", "run_id": r3, "claim_number": "C1"},
                                         {"source": "portal_problem", "run_id": r3, "claim_number": "C5"},
                                         {"source": "claim_status", "run_id": r3, "claim_number": "C6"}])
        task(s, "northwind", "login_failed", "waiting_on_payer", created=at(7),
             updated=at(7, 5), evidence=[{"source": "portal_problem", "run_id": r1, "claim_number": "D3"},
                                         {"source": "portal_problem", "run_id": r1}])
        cancelled = task(s, "northwind", "claim_denied", "cancelled", created=at(3))
        task(s, "northwind", "records_request", "done", created=at(3))
        history(s, done.id, at(9, 10), "done")
        history(s, cancelled.id, at(9, 11), "cancelled")
        history(s, done.id, at(9, 12), "open", old="done")
        history(s, done.id, at(9, 13), "done")  # closed twice on one day: once
        history(s, done.id, at(4, 9), "done")
        history(s, done.id, at(5, 9), "done", field="owner")  # not a status change
        history(s, cancelled.id, at(20, 9, month=2), "cancelled")  # before the window
        s.commit()
    return {"engine": db, "runs": (r0, r1, r2, r3, r4)}


def sql(engine, query: str, **params) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text(query), params).all())


def dash_of(engine, **kw):
    with Session(engine) as s:
        return dashboard_data(s, TODAY, **kw)


# -- the numbers -----------------------------------------------------------------------------------------

def test_open_by_payer_kind_matches_raw_sql(seeded):
    dash = dash_of(seeded["engine"])
    rows = sql(seeded["engine"], "SELECT payer_id, kind, COUNT(*) FROM task WHERE status IN "
                                 "('open', 'in_progress', 'waiting_on_payer') GROUP BY payer_id, kind")
    expected: dict[str, dict[str, int]] = defaultdict(dict)
    for payer, kind, count in rows:
        expected[payer][kind] = count
    assert {p.payer: p.by_kind for p in dash.open_by_payer_kind} == expected
    assert {p.payer: p.total for p in dash.open_by_payer_kind} == {"meridian": 5, "northwind": 1}
    assert [p.payer for p in dash.open_by_payer_kind] == ["meridian", "northwind"]  # most open first
    assert dash.kinds[0] == "records_request"  # 3 open, the most
    assert dash.most_manual_work.payer == "meridian" and dash.most_manual_work.total == 5


def test_ageing_by_hand(seeded):
    dash = dash_of(seeded["engine"])
    got = [(b.bucket, b.claims, b.billed) for b in dash.ageing]
    assert got == [
        ("0–30", 3, Decimal("100.10")),  # C1, C9 (future date, no amount), C10 (exactly 30 days)
        ("31–60", 2, Decimal("250.70")),  # C2 (from its date of service), C11
        ("61–90", 1, Decimal("1000.00")),  # C3
        ("91–120", 2, Decimal("11.25")),  # C4, C12 (exactly 120 days from the submitted date)
        ("over 120", 1, Decimal("5000.00")),  # C5
        ("no date", 1, Decimal("7.00")),  # C6
    ]
    total = sql(seeded["engine"], "SELECT COUNT(*) FROM claim WHERE finalized = 0 AND in_inventory = 1")[0][0]
    assert sum(b.claims for b in dash.ageing) == total
    assert all(isinstance(b.billed, Decimal) for b in dash.ageing)


def test_top_denials_by_hand(seeded):
    dash = dash_of(seeded["engine"])
    got = [(d.code, d.claims, d.dollars, d.nights_seen) for d in dash.top_denials]
    assert got == [
        # D1 (current 03/09: $200, not doubled by the line copy), D2 (current 03/08: $120; its old 197 is
        # history), D4 (two answers at one time: the later stored wins, $80); nights 03/06-03/09
        ("50", 3, Decimal("400.00"), 4),
        ("45", 1, Decimal("30.00"), 2),  # D1 on 03/07 and 03/09
        ("16", 1, Decimal("0.00"), 1),  # D3: a code without an amount; its late-arriving 03/01 answer is older
    ]
    assert dash.top_denials[0].description and "medical necessity" in dash.top_denials[0].description
    assert dash.most_repeated_denial.code == "50"
    # each claim's current finding is its latest observed: cross-check the claims per code with raw SQL
    rows = sql(seeded["engine"], "SELECT s.claim_number, s.id, s.finding FROM statusfinding s WHERE "
                                 "s.observed_at = (SELECT MAX(t.observed_at) FROM statusfinding t "
                                 "WHERE t.claim_number = s.claim_number) ORDER BY s.id")
    current = {claim: json.loads(blob) for claim, _id, blob in rows}
    carcs = {claim: {a["carc"] for a in f["adjustments"]} | set(f["carc_codes"])
             | {c for line in f["service_lines"] for c in line["carc_codes"]} for claim, f in current.items()}
    for d in dash.top_denials:
        assert d.claims == sum(d.code in codes for codes in carcs.values())


def test_top_denials_are_at_most_ten(db):
    with Session(db) as s:
        for n in range(12):
            add_claim(s, f"X{n}", finalized=True)
            finding(s, f"X{n}", at(9), None, service_lines=lines((str(100 + n), f"{n + 1}.00")))
        s.commit()
    denials = dash_of(db).top_denials
    assert [d.code for d in denials] == [str(111 - n) for n in range(10)]
    assert denials[0].dollars == Decimal("12.00")


def test_finding_carcs_reads_lines_when_the_claim_has_no_adjustments():
    assert finding_carcs({"service_lines": [{"adjustments": [{"carc": "50", "amount": "10.00"}],
                                              "carc_codes": ["50", "97"]}]}) == {"50": Decimal("10.00"),
                                                                                 "97": Decimal("0.00")}
    assert finding_carcs({}) == {}


def test_records_by_payer_matches_raw_sql(seeded):
    dash = dash_of(seeded["engine"])
    rows = sql(seeded["engine"], "SELECT payer_id, SUM(CASE WHEN status IN ('open', 'in_progress', "
                                 "'waiting_on_payer') THEN 1 ELSE 0 END), COUNT(*) FROM task "
                                 "WHERE kind = 'records_request' GROUP BY payer_id")
    assert {(r.payer, r.open, r.total) for r in dash.records_by_payer} == {tuple(r) for r in rows}
    assert [(r.payer, r.open, r.total) for r in dash.records_by_payer] == [("meridian", 3, 4), ("northwind", 0, 1)]


def test_opened_closed_per_day_matches_raw_sql(seeded):
    dash = dash_of(seeded["engine"])
    days = dash.opened_closed_per_day
    assert [d.day for d in days][0] == date(2026, 2, 25) and days[-1].day == TODAY and len(days) == 14
    opened = dict(sql(seeded["engine"], "SELECT date(created_at), COUNT(*) FROM task GROUP BY date(created_at)"))
    closed = dict(sql(seeded["engine"], "SELECT date(at), COUNT(DISTINCT task_id) FROM taskhistory WHERE "
                                        "field = 'status' AND new IN ('done', 'cancelled') GROUP BY date(at)"))
    for d in days:
        assert d.opened == opened.get(d.day.isoformat(), 0), d.day
        assert d.closed == closed.get(d.day.isoformat(), 0), d.day
    by_day = {d.day: (d.opened, d.closed) for d in days}
    assert by_day[date(2026, 3, 9)] == (1, 2)  # one task created at 23:00 UTC; done (twice) and cancelled
    assert by_day[date(2026, 3, 10)] == (1, 0)
    assert by_day[date(2026, 3, 4)] == (0, 1)
    assert by_day[date(2026, 3, 5)] == (0, 0)  # an owner change is not a close
    assert sum(o for o, _ in by_day.values()) == 8  # of 9 tasks: the one created 02/24 is before the window
    assert len(dash_of(seeded["engine"], days=3).opened_closed_per_day) == 3


def test_bot_success_by_hand_and_raw_sql(seeded):
    dash = dash_of(seeded["engine"])
    got = {(r.night, r.payer): (r.runs, r.claims_ok, r.claims_failed, r.share, r.errors, r.error_types, r.skipped)
           for r in dash.bot_success}
    assert got == {
        (date(2026, 2, 20), "meridian"): (1, 0, 0, None, 0, [], 0),
        (date(2026, 3, 7), "meridian"): (1, 1, 0, 1.0, 0, [], 0),
        (date(2026, 3, 7), "northwind"): (1, 0, 1, 0.0, 1, ["PortalChanged"], 0),
        (date(2026, 3, 8), "meridian"): (1, 1, 0, 1.0, 0, [], 0),
        (date(2026, 3, 8), "northwind"): (1, 0, 0, None, 0, [], 1),
        (date(2026, 3, 9), "meridian"): (1, 2, 1, pytest.approx(2 / 3), 0, [], 0),  # C1 failed then answered
        (date(2026, 3, 9), "northwind"): (2, 1, 0, 1.0, 0, [], 0),
    }
    ok = sql(seeded["engine"], "SELECT date(b.started_at), s.payer_id, COUNT(DISTINCT s.claim_number) FROM "
                               "statusfinding s JOIN botrun b ON b.id = s.run_id GROUP BY 1, 2")
    for night, payer, count in ok:
        assert got[(date.fromisoformat(night), payer)][1] == count
    assert dash.nights == [date(2026, 2, 20), date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    last_two = dash_of(seeded["engine"], nights=2)
    assert {r.night for r in last_two.bot_success} == {date(2026, 3, 8), date(2026, 3, 9)}


def test_empty_database(db):
    dash = dash_of(db)
    assert dash.open_by_payer_kind == [] and dash.top_denials == [] and dash.records_by_payer == []
    assert dash.bot_success == [] and dash.most_manual_work is None and dash.most_repeated_denial is None
    assert [b.claims for b in dash.ageing] == [0, 0, 0, 0, 0]
    assert all(d.opened == d.closed == 0 for d in dash.opened_closed_per_day)
    for name, svg in ch.dashboard_charts(dash).items():
        assert "No data yet" in svg, name
        ET.fromstring(str(svg))
    json.dumps(dash.as_dict())


def test_as_dict_is_json(seeded):
    data = json.loads(json.dumps(dash_of(seeded["engine"]).as_dict()))
    assert data["top_denials"][0]["dollars"] == "400.00"
    assert data["ageing"][0]["billed"] == "100.10"
    assert data["opened_closed_per_day"][-1]["day"] == "2026-03-10"
    assert data["most_manual_work"]["payer"] == "meridian" and data["most_repeated_denial"]["code"] == "50"


# -- charts ----------------------------------------------------------------------------------------------

def _check_svg(svg) -> ET.Element:
    out = str(svg)
    assert "style=" not in out and "<style" not in out and "<script" not in out.lower()
    root = ET.fromstring(out)  # well-formed: every text and attribute escaped
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.find("{http://www.w3.org/2000/svg}title") is not None
    return root


def test_charts_escape_hostile_text():
    hostile = [EVIL, EVIL_ATTR, EVIL_IMG]
    svgs = [
        ch.bar_chart([(h, n + 1, f"${n}.00 {h}") for n, h in enumerate(hostile)], label=EVIL),
        ch.stacked_bars([(h, {EVIL_IMG: 2, "other": 1}) for h in hostile], [EVIL_IMG, "other"], label=EVIL_ATTR),
        ch.columns_chart([(h, 1, 2) for h in hostile], label=EVIL_IMG, series=(EVIL, EVIL_ATTR)),
        ch.success_grid(hostile, hostile, {(hostile[0], hostile[1]): 0.5, (hostile[1], hostile[2]): None},
                        label=EVIL),
        ch.empty_chart(EVIL, EVIL_IMG),
    ]
    for svg in svgs:
        out = str(svg)
        root = _check_svg(svg)
        assert "<img" not in out and '" onerror=' not in out
        assert "&lt;script&gt;" in out or "&lt;img" in out
        texts = " ".join(t for el in root.iter() for t in [el.text or ""])
        assert any(h in texts for h in hostile)  # the text is shown, as text


def test_charts_empty_and_sized_from_data():
    for svg in (ch.bar_chart([], label="x"), ch.stacked_bars([], [], label="x"), ch.columns_chart([], label="x"),
                ch.success_grid([], ["a"], {}, label="x")):
        assert "No data yet" in _check_svg(svg).find("{http://www.w3.org/2000/svg}text").text
    small = _check_svg(ch.bar_chart([("a", 1)], label="x"))
    big = _check_svg(ch.bar_chart([(f"payer number {n}", n * 10**9) for n in range(1, 40)], label="x"))
    assert int(big.get("height")) > int(small.get("height")) and int(big.get("width")) > int(small.get("width"))
    zero = _check_svg(ch.bar_chart([("a", 0, "$0.00")], label="x"))  # all zero: drawn, not a failure
    assert "$0.00" in ET.tostring(zero, encoding="unicode")
    grid = str(ch.success_grid(["03/09"], ["meridian"], {("03/09", "meridian"): 2 / 3}, label="x"))
    assert ">67%<" in grid


def test_chart_palette_is_okabe_ito():
    assert set(ch.PALETTE) <= {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
                               "#000000"}


# -- the page --------------------------------------------------------------------------------------------

def render(dash) -> str:
    env = make_templates().env  # the app's own environment: autoescape, strict, its filters
    return env.get_template("dashboard.html").render(dash=dash, charts=ch.dashboard_charts(dash), today=TODAY,
                                                     root="", title="Dashboard", viewer=None, flash=None, csrf="",
                                                     csrf_param="csrf")


class _Tables(HTMLParser):
    """table data-chart -> rows of (the row's data-* attributes, [(td attributes)])."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[dict]]]] = {}
        self.current: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "chart-data" in (attrs.get("class") or ""):
            self.current = attrs["data-chart"]
            self.tables[self.current] = []
        elif tag == "tr" and self.current and any(k.startswith("data-") for k in attrs):
            self.tables[self.current].append((attrs, []))
        elif tag == "td" and self.current and "data-value" in attrs and self.tables[self.current]:
            self.tables[self.current][-1][1].append(attrs)

    def handle_endtag(self, tag):
        if tag == "table":
            self.current = None


def _values(row: tuple[dict, list[dict]], key: str = "data-field") -> dict[str, str]:
    return {td[key]: td["data-value"] for td in row[1]}


def test_page_numbers_equal_the_dashboard(seeded):
    dash = dash_of(seeded["engine"])
    page = render(dash)
    assert "<h1>Dashboard</h1>" in page and "style=" not in page and "<script" not in page
    assert "Most manual work: <strong>meridian</strong>" in page and "(5 open tasks)" in page
    assert "Most repeated denial: <strong>CARC 50</strong>" in page and "(3 claims, $400.00)" in page
    parser = _Tables()
    parser.feed(page)
    t = parser.tables
    assert set(t) == {"open-by-payer", "ageing", "top-denials", "records-by-payer", "opened-closed", "bot-success"}
    rows = {r[0]["data-payer"]: _values(r, "data-kind") for r in t["open-by-payer"]}
    assert rows == {p.payer: {**{k: str(p.by_kind.get(k, 0)) for k in dash.kinds}, "total": str(p.total)}
                    for p in dash.open_by_payer_kind}
    assert {r[0]["data-bucket"]: _values(r) for r in t["ageing"]} == {
        b.bucket: {"claims": str(b.claims), "billed": f"{b.billed:.2f}"} for b in dash.ageing}
    assert _values(t["ageing"][0])["billed"] == "100.10"
    assert {r[0]["data-code"]: _values(r) for r in t["top-denials"]} == {
        d.code: {"claims": str(d.claims), "dollars": f"{d.dollars:.2f}", "nights_seen": str(d.nights_seen)}
        for d in dash.top_denials}
    assert {r[0]["data-payer"]: _values(r) for r in t["records-by-payer"]} == {
        r.payer: {"open": str(r.open), "total": str(r.total)} for r in dash.records_by_payer}
    assert {r[0]["data-day"]: _values(r) for r in t["opened-closed"]} == {
        d.day.isoformat(): {"opened": str(d.opened), "closed": str(d.closed)} for d in dash.opened_closed_per_day}
    got = {(r[0]["data-night"], r[0]["data-payer"]): _values(r) for r in t["bot-success"]}
    assert got == {(r.night.isoformat(), r.payer): {
        "runs": str(r.runs), "claims_ok": str(r.claims_ok), "claims_failed": str(r.claims_failed),
        "share": "" if r.share is None else f"{r.share:.4f}", "errors": str(r.errors), "skipped": str(r.skipped)}
        for r in dash.bot_success}
    for chart in ("open-by-payer", "ageing", "top-denials", "records-by-payer", "opened-closed", "bot-success"):
        assert f'data-chart="{chart}"' in page


def test_page_escapes_payer_text_and_renders_empty(db):
    page = render(dash_of(db))
    assert "<h1>Dashboard</h1>" in page and "No data yet" in page and "Most manual work" not in page
    with Session(db) as s:
        task(s, EVIL, "records_request")
        task(s, EVIL_IMG, EVIL_ATTR)
        s.commit()
    page = render(dash_of(db))
    assert "<script>alert" not in page and "<img src=x" not in page and '" onerror=' not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_bot_success_uses_the_runs_own_per_payer_counts_when_recorded(db):
    started = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    with Session(db, expire_on_commit=False) as s:
        s.add(BotRun(started_at=started, finished_at=started, payers=["meridian"], status="completed",
                     counts={"findings_stored": 0, "skipped": {},
                             "by_payer": {"meridian": {"accounts": 1, "claims_checked": 40, "problems": 0}}}))
        s.commit()
    [row] = dash_of(db).bot_success
    # 40 checked, none stored (answers unchanged since the night before): still a full success.
    assert (row.payer, row.claims_ok, row.claims_failed, row.share) == ("meridian", 40, 0, 1.0)
