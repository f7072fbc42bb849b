"""The Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from tufpi.db import Base, make_engine, upgrade
from tufpi.db.migrate import alembic_config


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()
    assert head is not None
    return head


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Tables, columns, indexes and constraints as the database reports them."""
    found = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)
            ],
            "indexes": sorted(str(sorted(i.items())) for i in found.get_indexes(table)),
            "unique": sorted(str(sorted(u.items())) for u in found.get_unique_constraints(table)),
            "foreign": sorted(str(sorted(f.items())) for f in found.get_foreign_keys(table)),
        }
        for table in sorted(found.get_table_names())
    }


def test_empty_database_has_no_tables(empty_engine: Engine) -> None:
    assert inspect(empty_engine).get_table_names() == []
    assert _revision(empty_engine) is None


def test_migrations_build_the_models_schema(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert _revision(empty_engine) == _head()
    tables = set(inspect(empty_engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert _schema_diff(empty_engine) == []


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    before = _snapshot(empty_engine)
    upgrade(empty_engine)
    assert _revision(empty_engine) == _head()
    assert _snapshot(empty_engine) == before
    assert _schema_diff(empty_engine) == []


def test_schema_diff_notices_a_missing_table(empty_engine: Engine) -> None:
    # The comparison itself must be able to fail: drop a table nothing depends on.
    upgrade(empty_engine)
    leaf = Base.metadata.sorted_tables[-1]
    with empty_engine.begin() as conn:
        leaf.drop(conn)
    diff = _schema_diff(empty_engine)
    assert [(d[0], d[1].name) for d in diff if d[0] == "add_table"] == [("add_table", leaf.name)]
