"""Alembic schema migrations for the work queue, configured in code (no alembic.ini) so they run from any cwd.

A new revision after changing workqueue/models.py, against a database at head (PAYERBOT_DATABASE_URL or the
SQLite default):
    python -c "from alembic import command; from workqueue.migrations import alembic_config;
               command.revision(alembic_config(), 'what changed', autogenerate=True, rev_id='0002')"
then read and tidy the generated file in versions/ (and keep column types spelled out, as 0001 does).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

# The revision that matches what `SQLModel.metadata.create_all` built before migrations existed.
BASELINE = "0001"
# Tables the baseline creates; a database holding all of them but no alembic_version predates migrations.
BASELINE_TABLES = frozenset({"claim", "statusfinding", "task", "taskhistory", "botrun", "document",
                             "authorization", "authorizationhistory", "records_packet"})
# Any fixed number: PostgreSQL sessions that initialize the same database at once take turns on it.
_PG_LOCK_KEY = 0x70617965  # "paye"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for this package's migrations, optionally bound to an open connection."""
    config = Config()
    # "package:folder" resolves through the installed package, not the current directory.
    config.set_main_option("script_location", "workqueue:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision id among the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None if it is not under migration control."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_to_head(connection: Connection) -> None:
    """Bring the database to the newest revision, first stamping one built earlier by `create_all`."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = alembic_config(connection)
    if current_revision(connection) is None:
        existing = set(inspect(connection).get_table_names()) & BASELINE_TABLES
        if existing == BASELINE_TABLES:
            command.stamp(config, BASELINE)  # the tables and their rows stay as they are
        elif existing:
            raise RuntimeError(f"database has only some work-queue tables ({', '.join(sorted(existing))}) "
                               "and no alembic_version: fix it by hand before migrating")
    command.upgrade(config, "head")
