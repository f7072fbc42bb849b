"""Rows straight from the database driver, for reads of millions of rows (back-signing)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


def driver_rows(session: Session, query: ClauseElement) -> list[tuple[Any, ...]]:
    """Run ``query`` in ``session``'s transaction through the driver's own cursor: plain
    tuples, without the cost of a SQLAlchemy row each."""
    connection = session.connection()
    compiled = cast(
        SQLCompiler,
        query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True}),
    )
    params: Any = compiled.params
    if compiled.positional and compiled.positiontup is not None:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()
