"""Database plumbing: the URL, one engine per URL, table creation and a commit-or-rollback session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from bots.files import private_dir, private_umask
from workqueue.paths import payerbot_home

_ENGINES: dict[str, Engine] = {}


def database_url() -> str:
    """PAYERBOT_DATABASE_URL, else a SQLite file under PAYERBOT_HOME (the folder is created)."""
    url = os.environ.get("PAYERBOT_DATABASE_URL")
    if url:
        return url
    private_umask()
    home = private_dir(payerbot_home())
    return f"sqlite:///{home / 'payerbot.db'}"


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does: its -wal and -shm files then get the same mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    private_umask()  # SQLite itself creates the -wal/-shm files (and the file, if this one is removed)
    path = Path(database)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


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
            _private_sqlite_file(url)
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

    private_umask()
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
