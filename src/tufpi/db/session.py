"""Engines and sessions. SQLite gets WAL and a busy timeout so web and signer can share it.

Writers use ``make_write_sessionmaker``: on SQLite its transactions start with
``BEGIN IMMEDIATE``, so two writers queue for the lock instead of one failing when it
upgrades a stale read; readers keep plain deferred transactions and never block each other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_WRITE = "tufpi_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is lazy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings tufpi relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading (and for writes that cannot race: CLI administration)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_write_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose transactions take the write lock at once on SQLite."""
    return sessionmaker(engine.execution_options(**{_WRITE: True}), expire_on_commit=False)
