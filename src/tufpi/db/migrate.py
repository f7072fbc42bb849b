"""Run Alembic migrations programmatically (no alembic.ini needed).

Alembic is imported only when a migration runs: every ``tufpi`` process imports
``tufpi.db``, few migrate, and importing Alembic costs each of them a quarter of a second of
CPU (the test suite starts thousands of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at tufpi's migrations, bound to ``engine``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tufpi.db:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(
    engine: Engine, revision: str = "head", report: Callable[[str], None] | None = None
) -> None:
    """Bring the database schema up to ``revision``; ``report`` receives each line a
    migration reports about the data it changed or flagged (migration 0004's twins)."""
    from alembic import command

    config = alembic_config(engine)
    config.attributes["report"] = report
    command.upgrade(config, revision)
