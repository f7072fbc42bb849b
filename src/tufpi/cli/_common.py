"""What every command shares: settings, errors turned into click's, test hooks (crash, pause)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import click

from tufpi.config import Settings
from tufpi.db import make_engine, upgrade
from tufpi.index.errors import IndexProblem
from tufpi.index.sweep import SweepResult, sweep
from tufpi.services import Services
from tufpi.trust.bins import Checkpoint

T = TypeVar("T")
# Testing only: ``tufpi serve`` SIGKILLs itself at this step of an upload (POINT[:N], one of
# tufpi.index.service.UPLOAD_STEPS), as ``--debug-crash-at`` does for the signer.
UPLOAD_CRASH_ENV = "TUFPI_DEBUG_UPLOAD_CRASH_AT"
# Testing only: the first upload to pass step POINT waits there until FILE exists
# (``POINT:FILE``), so that a test can run another request in the middle of it.
UPLOAD_PAUSE_ENV = "TUFPI_DEBUG_UPLOAD_PAUSE_AT"
# Testing only: ``tufpi signer`` (serve's child too) holds its publication at POINT[:N] until
# it is asked to stop, as ``--debug-pause-at`` does (see ``pause_at``).
SIGNER_PAUSE_ENV = "TUFPI_DEBUG_SIGNER_PAUSE_AT"
log = logging.getLogger("tufpi.signer")


def migrate(settings: Settings) -> None:
    """Apply migrations (creating the data directory of the embedded default)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(
        make_engine(settings.effective_database_url),
        report=lambda line: click.echo(f"migration: {line}", err=True),
    )


def reporting_problems(action: Callable[[], T]) -> T:
    """Run ``action``, turning the index's refusals (IndexProblem) into a clean CLI error."""
    try:
        return action()
    except IndexProblem as e:
        raise click.ClickException(e.message) from e


def sweep_staged(services: Services) -> SweepResult:
    """Publish, or delete, what killed processes left in the storage's staging area."""
    return sweep(services.sessions, services.storage, services.clock().timestamp())


def upload_checkpoint() -> Checkpoint:
    """The upload steps' checkpoint that the testing variables ask for (none by default)."""
    crash = crash_at(os.environ.get(UPLOAD_CRASH_ENV))
    point, _, go = os.environ.get(UPLOAD_PAUSE_ENV, "").partition(":")
    paused: list[str] = []

    def checkpoint(name: str) -> None:
        if go and name == point and not paused:
            paused.append(name)
            while not os.path.exists(go):
                time.sleep(0.05)
        crash(name)

    return checkpoint


def crash_at(spec: str | None) -> Checkpoint:
    """A checkpoint that SIGKILLs this process at the N-th passage of a named point.

    For crash-safety tests only: ``POINT`` or ``POINT:N`` (the publisher's read, bin, bins,
    snapshot, timestamp, commit; an upload's staged, committed, visible).
    """
    return _at_nth_passage(spec, lambda _name: os.kill(os.getpid(), signal.SIGKILL))


def pause_at(spec: str | None, stop: threading.Event) -> Checkpoint:
    """A checkpoint that holds this process at the N-th passage of a named point until
    ``stop`` is set, then lets it go on: the publication finishes, the signer stops.

    For the signal tests only (a signal arriving *during* a publication, for certain):
    ``POINT`` or ``POINT:N``, the points of ``crash_at``. Once there it logs
    ``signer: paused at POINT``, the line the test waits for before signalling.
    """

    def hold(name: str) -> None:
        log.warning("signer: paused at %s (testing hook); waiting to be stopped", name)
        stop.wait()

    return _at_nth_passage(spec, hold)


def _at_nth_passage(spec: str | None, action: Checkpoint) -> Checkpoint:
    """A checkpoint calling ``action`` at the N-th passage of the point ``spec`` names
    (``POINT`` or ``POINT:N``); one that does nothing when ``spec`` is empty."""
    if not spec:
        return lambda _name: None
    point, _, nth = spec.partition(":")
    seen: Counter[str] = Counter()

    def checkpoint(name: str) -> None:
        seen[name] += 1
        if name == point and seen[name] == int(nth or 1):
            action(name)

    return checkpoint
