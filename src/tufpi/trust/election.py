"""Elect the one active signer: a PostgreSQL advisory lock, or a file lock beside SQLite.

Two signers never publish at once, so the metadata never forks; a second one waits and
takes over when the first one's session or process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

log = logging.getLogger("tufpi.signer")

# "tufpi" in ASCII: one lock id for the whole database.
_LOCK_ID = 0x7475667069


def _standing_by() -> None:
    log.info("signer: standing by (another signer is active)")


@contextlib.contextmanager
def _file_lock(path: Path, stop: threading.Event, poll: float) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for attempt in itertools.count():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 0:
                    _standing_by()
                if stop.wait(poll):
                    yield False
                    return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _advisory_lock(engine: Engine, stop: threading.Event, poll: float) -> Iterator[bool]:
    with engine.connect() as conn:
        for attempt in itertools.count():
            if conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": _LOCK_ID}).scalar():
                break
            conn.rollback()
            if attempt == 0:
                _standing_by()
            if stop.wait(poll):
                yield False
                return
        conn.commit()
        try:
            yield True
        finally:
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                conn.commit()


@contextlib.contextmanager
def leadership(
    engine: Engine, lock_file: Path, stop: threading.Event, poll: float = 1.0
) -> Iterator[bool]:
    """Block until this process is the active signer (yields True) or ``stop`` is set (False)."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, stop, poll) as won:
            yield won
    else:
        with _file_lock(lock_file, stop, poll) as won:
            yield won
