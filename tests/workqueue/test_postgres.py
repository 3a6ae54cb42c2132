"""The work queue on PostgreSQL: migrations, inventory import, persistence, dedupe, planning, exact types."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from sandbox.world import PROFILES, World, rows_to_csv
from tests.e2e.expected import claim_tasks
from tests.workqueue.conftest import status
from workqueue.config import load_rules
from workqueue.db import get_engine, init_db
from workqueue.inventory import import_claims
from workqueue.migrations import head_revision
from workqueue.models import Claim, StatusFinding, Task
from workqueue.persist import persist_findings
from workqueue.planning import plan_night

pytestmark = pytest.mark.postgres

TODAY = date(2026, 3, 2)
WHEN = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
UNMAPPED = "Awaiting other insurance information"  # wording no status map knows, as in test_oracle_world


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    """A fresh schema of its own on the test server, migrated with init_db, dropped afterwards."""
    base = os.environ.get("PAYERBOT_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("PAYERBOT_TEST_POSTGRES_URL is not set: run `./run test` (it starts a throw-away PostgreSQL) "
                    "or set it to a postgresql+psycopg:// URL of a database you may write to")
    schema = f"payerbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # libpq's `options` makes every pooled connection start with this schema first in its search_path.
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = get_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_schema()")).scalar_one() == schema
        init_db(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_session(pg_engine: Engine) -> Iterator[Session]:
    """A session on the test schema."""
    with Session(pg_engine, expire_on_commit=False) as session:
        yield session


def _money(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def oracle_findings(oracle: dict) -> list:
    """What a perfect bot reports for each claim: the oracle's status, or no category for unlisted wording."""
    findings = []
    for number, c in oracle["claims"].items():
        unmapped = c["unmapped_wording"]
        findings.append(status(
            number, None if unmapped else c["status_category"],
            UNMAPPED if unmapped else f"status {c['status_category']}", payer=oracle["payer_id"], when=WHEN,
            payer_claim_number=c["payer_claim_number"], reference_number=c["reference_number"],
            allowed=_money(c["allowed"]), paid=_money(c["paid"]),
            patient_responsibility=_money(c["patient_responsibility"]),
            adjudication_date=date.fromisoformat(c["adjudication_date"]) if c["adjudication_date"] else None))
    return findings


def test_schema_is_at_head_and_matches_the_models(pg_engine):
    init_db(pg_engine)  # a second run finds nothing to do
    with pg_engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        types = dict(connection.execute(text(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') "
            "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'claim'")).all())
    assert types["billed_amount"] == "numeric(12,2)"
    assert types["last_checked_at"] == "timestamp with time zone"


def test_world_on_postgres(pg_session, tmp_path: Path):
    world = World(PROFILES["meridian"], seed=7, today=TODAY, claims=30)
    oracle = world.oracle()
    inventory = tmp_path / "inventory.csv"
    rows = world.inventory_rows()
    inventory.write_text(rows_to_csv(rows))
    imported = import_claims(inventory, pg_session)
    assert (imported.rows, imported.new) == (30, 30)
    claims = {c.claim_number: c for c in pg_session.exec(select(Claim)).all()}
    assert set(claims) == set(oracle["claims"])
    for number, c in oracle["claims"].items():
        assert claims[number].expected_amount == Decimal(c["expected_amount"])

    findings = oracle_findings(oracle)
    first = persist_findings(pg_session, findings)
    pg_session.commit()
    assert first.findings_stored == 30
    rules = load_rules()
    expected = claim_tasks({**oracle, "letters": []}, rules, WHEN.date())
    tasks = pg_session.exec(select(Task)).all()
    assert first.tasks_created == len(tasks) > 0
    unmapped = [t for t in tasks if t.kind == "unmapped_status"]
    assert len(unmapped) == (1 if any(c["unmapped_wording"] for c in oracle["claims"].values()) else 0)
    found = {(t.kind, t.claim_number): t for t in tasks if t.kind != "unmapped_status"}
    assert sorted(found) == sorted(expected)
    for key, want in expected.items():
        assert found[key].reference_number == want.reference_number, key
        if want.deadline is not None:
            assert found[key].deadline == want.deadline, key

    again = persist_findings(pg_session, findings)
    pg_session.commit()
    assert (again.tasks_created, again.tasks_updated, again.findings_stored) == (0, 0, 0)
    assert pg_session.exec(select(func.count()).select_from(Task)).one() == len(tasks)
    assert pg_session.exec(select(func.count()).select_from(StatusFinding)).one() == 30

    open_claims = sorted(n for n, c in oracle["claims"].items() if not c["finalized"])
    tonight = plan_night(pg_session, now=WHEN + timedelta(hours=1))
    assert tonight.payers == ["meridian"]
    assert tonight.claims["meridian"] == []  # every claim was just checked
    later = plan_night(pg_session, now=WHEN + timedelta(hours=rules.deadlines.recheck_after_hours + 1))
    assert [q.claim_number for q in later.claims["meridian"]] == open_claims
    assert {q.claim_number: q.billed_amount for q in later.claims["meridian"]} == {
        r["claim_number"]: Decimal(r["billed_amount"]) for r in rows if r["claim_number"] in open_claims}


def test_datetimes_and_money_round_trip(pg_engine):
    eastern = timezone(timedelta(hours=-5))
    checked = datetime(2026, 3, 1, 22, 30, 15, 123456, tzinfo=eastern)
    with Session(pg_engine) as session:
        session.add(Claim(claim_number="RT-1", payer_id="roundtrip", billed_amount=Decimal("1234567890.12"),
                          paid=Decimal("0.10"), allowed=Decimal("0.20"), last_checked_at=checked))
        session.commit()
    with Session(pg_engine) as session:
        claim = session.get(Claim, "RT-1")
        assert claim.last_checked_at == checked
        assert claim.last_checked_at.utcoffset() == timedelta(0)
        assert claim.last_checked_at.isoformat() == "2026-03-02T03:30:15.123456+00:00"
        assert claim.billed_amount == Decimal("1234567890.12")
        assert str(claim.billed_amount) == "1234567890.12"
        # Summed by the database: exact NUMERIC, where floats would give 0.30000000000000004.
        total = session.exec(select(Claim.paid + Claim.allowed).where(Claim.claim_number == "RT-1")).one()
        assert total == Decimal("0.30")
        assert session.exec(select(Claim).where(Claim.last_checked_at == datetime(2026, 3, 2, 3, 30, 15, 123456,
                                                                                  tzinfo=UTC))).one()


def test_the_audit_trail_refuses_updates_and_deletes_on_postgres(pg_engine):
    with pg_engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_event (at, actor, action, object_type, source) "
                                "VALUES (now(), 'dana', 'view', 'task', 'web 127.0.0.1')"))
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"), pg_engine.begin() as connection:
            connection.execute(text(statement))
    with pg_engine.begin() as connection:
        assert "someone else" not in connection.execute(text("SELECT actor FROM audit_event")).scalars().all()


def test_the_web_worklist_query_on_postgres(pg_session):
    from datetime import date, timedelta

    from workqueue.models import Task
    from workqueue.web.queries import Filters, facet_counts, worklist_page
    from workqueue.web.security import Viewer

    today = date(2026, 3, 10)  # owners and payer of this test only: the schema is shared in the module
    seeded = [("pg-dana", today - timedelta(days=1), "open"), ("pg-team", today, "in_progress"),
              ("pg-bea", None, "open"), ("pg-dana", today + timedelta(days=3), "done"),
              ("pg-dana", today + timedelta(days=30), "waiting_on_payer")]
    for n, (owner, deadline, state) in enumerate(seeded):
        pg_session.add(Task(kind="denial_review", payer_id="pg-payer", title="t", owner=owner, deadline=deadline,
                            status=state, claim_number=f"CLM-{n}", dedupe_key=f"pg-web:{n}"))
    pg_session.add(Task(kind="denial_review", payer_id="pg-payer", title="t", owner="pg-dana", status="open",
                        claim_number="clm-9", snoozed_until=today + timedelta(days=2), dedupe_key="pg-web:9"))
    pg_session.commit()
    viewer = Viewer("pg-dana", "biller", "pg-team", "x", None)
    rows, total = worklist_page(pg_session, Filters(scope="team"), viewer, today, 1)
    assert [t.claim_number for t in rows] == ["CLM-0", "CLM-1", "CLM-4"] and total == 3  # snoozed, done: out
    counts = facet_counts(pg_session, Filters(scope="all", payer="pg-payer"), viewer, today)
    assert (counts["due"]["overdue"], counts["due"]["today"], counts["due"]["week"], counts["due"]["none"]) == (
        1, 1, 1, 1)
    found, _ = worklist_page(pg_session, Filters(scope="all", q="clm-", status="all"), viewer, today, 1)
    assert len(found) == 5  # case-insensitive on PostgreSQL too (ILIKE); the snoozed one stays hidden
