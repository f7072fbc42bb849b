"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at tufpi's migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", "tufpi.db:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(
    engine: Engine, revision: str = "head", report: Callable[[str], None] | None = None
) -> None:
    """Bring the database schema up to ``revision``; ``report`` receives each line a
    migration reports about the data it changed or flagged (migration 0004's twins)."""
    config = alembic_config(engine)
    config.attributes["report"] = report
    command.upgrade(config, revision)
