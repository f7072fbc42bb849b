"""What every command shares: settings, errors turned into click's, and the crash tests' hook."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tufpi.config import ConfigError, Settings, from_environment
from tufpi.db import make_engine, upgrade
from tufpi.index.errors import IndexProblem
from tufpi.services import Services
from tufpi.trust.bins import Checkpoint

T = TypeVar("T")


class Obj:
    """Global options, turned into settings on demand."""

    def __init__(self, config: Any, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides

    def settings(self, **more: Any) -> Settings:
        try:
            return from_environment(self.config, **{**self.overrides, **more})
        except ConfigError as e:
            raise click.ClickException(str(e)) from e

    def services(self, **more: Any) -> Services:
        return Services.from_settings(self.settings(**more))


def migrate(settings: Settings) -> None:
    """Apply migrations (creating the data directory of the embedded default)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(
        make_engine(settings.effective_database_url),
        report=lambda line: click.echo(f"migration: {line}", err=True),
    )


def run(action: Callable[[], T]) -> T:
    """Run ``action``, turning the index's refusals into a clean CLI error."""
    try:
        return action()
    except IndexProblem as e:
        raise click.ClickException(e.message) from e


def crash_at(spec: str | None) -> Checkpoint:
    """A checkpoint that SIGKILLs this process at the N-th passage of a named point.

    For crash-safety tests only: ``POINT`` or ``POINT:N`` (read, bin, bins, snapshot,
    timestamp, commit).
    """
    if not spec:
        return lambda _name: None
    point, _, nth = spec.partition(":")
    seen: Counter[str] = Counter()

    def checkpoint(name: str) -> None:
        seen[name] += 1
        if name == point and seen[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint
