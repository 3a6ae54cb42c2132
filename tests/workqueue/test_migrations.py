"""Alembic migrations on SQLite: head equals the models, init_db is idempotent, create_all databases are adopted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from workqueue.db import init_db
from workqueue.migrations import BASELINE, BASELINE_TABLES, alembic_config, head_revision
from workqueue.models import Claim, PortalAccount, Task

WHEN = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def schema_diff(engine: Engine) -> list:
    """What autogenerate would change to make the database match the SQLModel tables (empty: identical)."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                SQLModel.metadata)


def version(engine: Engine) -> str:
    """The revision recorded in alembic_version."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file of its own (not the cached engines of workqueue.db)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'wq.db'}")
    yield engine
    engine.dispose()


def test_head_builds_exactly_the_model_schema(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the migrations are found through the package, not the current directory
    init_db(engine)
    assert version(engine) == head_revision() == "0007"
    tables = set(inspect(engine).get_table_names())
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert schema_diff(engine) == []


def test_schema_diff_sees_a_missing_index(engine):
    # Guards the test above: an empty diff must come from a real comparison.
    init_db(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_task_owner_status_deadline"))
    assert [d[0] for d in schema_diff(engine)] == ["add_index"]


def test_init_db_twice_is_harmless(engine):
    init_db(engine)
    with Session(engine) as session:
        session.add(Claim(claim_number="C1", payer_id="meridian", billed_amount=Decimal("120.50")))
        session.commit()
    init_db(engine)
    assert version(engine) == head_revision()
    with Session(engine) as session:
        assert session.get(Claim, "C1").billed_amount == Decimal("120.50")
    assert schema_diff(engine) == []


def test_create_all_database_is_stamped_and_keeps_its_rows(engine):
    import workqueue.models  # noqa: F401

    # What create_all built before migrations existed is exactly revision 0001 without alembic_version.
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
    # Raw SQL: today's Claim and Task models have columns that revision 0001 does not.
    _insert(engine, "claim", claim_number="C7", payer_id="meridian", date_of_service=date(2026, 1, 10),
            expected_amount="99.99", last_checked_at=WHEN, procedure_codes="", units="", in_inventory=True,
            finalized=False)
    _insert_task(engine, kind="denial_review", claim_number="C7", payer_id="meridian", title="Denied",
                 owner="biller", dedupe_key="denial_review:C7", reference_number="ICN-7")
    assert "alembic_version" not in inspect(engine).get_table_names()
    init_db(engine)
    assert version(engine) == head_revision()
    with Session(engine) as session:
        claim = session.get(Claim, "C7")
        assert (claim.expected_amount, claim.last_checked_at) == (Decimal("99.99"), WHEN)
        tasks = session.exec(select(Task)).all()
        assert [(t.dedupe_key, t.reference_number) for t in tasks] == [("denial_review:C7", "ICN-7")]
    assert schema_diff(engine) == []


def test_partial_database_is_refused(engine):
    # Half a schema without alembic_version is not something to guess about: stop before touching it.
    SQLModel.metadata.create_all(engine, tables=[SQLModel.metadata.tables["claim"]])
    with pytest.raises(RuntimeError, match="only some work-queue tables"):
        init_db(engine)
    assert set(inspect(engine).get_table_names()) == {"claim"}


def test_baseline_revision_creates_the_baseline_tables(engine):
    # The stamping rule in init_db recognizes a create_all database by exactly these tables.
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    assert set(inspect(engine).get_table_names()) == BASELINE_TABLES | {"alembic_version"}


def test_open_login_problems_from_before_accounts_existed_stay_blocked(engine):
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    _insert_task(engine, kind="login_failed", payer_id="meridian", account="main", title="Login failed",
                 owner="bot-operators", dedupe_key="login_failed:meridian:main")
    _insert_task(engine, kind="login_failed", payer_id="northwind", account="main", title="Login failed",
                 owner="bot-operators", dedupe_key="login_failed:northwind:main", status="done")
    init_db(engine)
    with Session(engine) as session:
        rows = session.exec(select(PortalAccount)).all()
    assert [(r.payer_id, r.account, r.state, r.blocked_kind) for r in rows] == [
        ("meridian", "main", "blocked", "login_failed")]


def _insert_task(engine, **values) -> None:
    """A task row as revision 0001 stores it (the columns it has, with their defaults)."""
    _insert(engine, "task", **{"reference_number": None, "claim_number": None, "account": None, "status": "open",
                               "priority": "normal", "evidence": "[]", "created_at": WHEN, "updated_at": WHEN,
                               **values})


def _insert(engine, table: str, **row) -> None:
    """One row by raw SQL (an older revision's columns, not today's model)."""
    with engine.begin() as connection:
        connection.execute(text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"),
                           row)


def test_rows_from_before_practices_become_the_default_practice(engine):
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0004")
    _insert(engine, "claim", claim_number="C8", payer_id="meridian", procedure_codes="", units="",
            in_inventory=True, finalized=False)
    _insert_task(engine, kind="denial_review", claim_number="C8", payer_id="meridian", title="Denied",
                 owner="biller", dedupe_key="denial_review:meridian:C8", snoozed_until=None)
    _insert(engine, "document", sha256="ab" * 32, payer_id="meridian", portal_document_id="L-1", title="Letter",
            stored_path="documents/meridian/l.pdf", original_file_name="l.pdf", text="", doc_type="other",
            observed_at=WHEN)
    _insert(engine, "portal_account", payer_id="meridian", account="main", state="ok", logins=0, updated_at=WHEN)
    _insert(engine, "web_user", name="dana", role="biller", password_hash="x", disabled=False, created_at=WHEN,
            updated_at=WHEN)
    init_db(engine)
    assert version(engine) == head_revision()
    with engine.connect() as connection:
        practices = {table: connection.execute(text(f"SELECT practice FROM {table}")).scalars().all()
                     for table in ("claim", "task", "document", "portal_account")}
        assert connection.execute(text("SELECT practices FROM web_user")).scalar_one() == ""
        plan = connection.execute(text("EXPLAIN QUERY PLAN SELECT owner, count(*) FROM task "
                                       "WHERE practice = 'x' GROUP BY owner")).all()
    assert practices == {table: ["default"] for table in practices}
    assert "ix_task_worklist" in " ".join(str(row) for row in plan)  # the practice filter stays inside the index
    assert schema_diff(engine) == []


def test_the_audit_trail_refuses_updates_and_deletes(engine):
    init_db(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO audit_event (at, actor, action, object_type, source) "
                                "VALUES (:at, 'dana', 'view', 'task', 'web 127.0.0.1')"), {"at": WHEN})
    for statement in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with engine.begin() as connection:
        assert connection.execute(text("SELECT actor FROM audit_event")).scalars().all() == ["dana"]
