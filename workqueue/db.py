"""Database plumbing: the URL, one engine per URL, table creation and a commit-or-rollback session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from workqueue.paths import payerbot_home

_ENGINES: dict[str, Engine] = {}


def database_url() -> str:
    """PAYERBOT_DATABASE_URL, else a SQLite file under PAYERBOT_HOME (the folder is created)."""
    url = os.environ.get("PAYERBOT_DATABASE_URL")
    if url:
        return url
    home = payerbot_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'payerbot.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the biller UI read while a night run writes; NORMAL is safe with WAL and much faster.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The engine for this URL (default `database_url()`), created once per process."""
    url = url or database_url()
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            # Prefect runs tasks in worker threads: one SQLite connection may cross threads.
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _ENGINES[url] = engine
    return engine


def init_db(engine: Engine | None = None) -> Engine:
    """Bring the database to the newest schema revision with Alembic; return the engine."""
    # Imported here: the migrations' env.py imports this module.
    from workqueue.migrations import upgrade_to_head

    engine = engine or get_engine()
    # One transaction: on PostgreSQL a failed migration leaves the schema as it was.
    with engine.begin() as connection:
        upgrade_to_head(connection)
    return engine


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
