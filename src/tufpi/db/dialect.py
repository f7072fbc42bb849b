"""Statements whose SQL differs by database: ``INSERT ... ON CONFLICT`` (an upsert) is
spelled the same in SQLite and PostgreSQL, but each dialect builds its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_of(session: Session) -> str:
    """The name of ``session``'s database dialect: "sqlite" or "postgresql"."""
    return session.get_bind().dialect.name


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT on ``table`` (a model or a Table) that offers ``on_conflict_do_update`` and
    ``on_conflict_do_nothing`` for the ``dialect`` named."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
