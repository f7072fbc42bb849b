"""Elect the one active signer: a PostgreSQL advisory lock, or a file lock beside SQLite.

Two signers never publish at once, so the metadata never forks; a second one waits and
takes over when the first one's session or process ends. A PostgreSQL lock also ends when
its session does while the process lives on (the server restarted, a network partition
outlasted TCP keepalive, an administrator ended it): the signer asks ``Lease.held()``
before each publication and stops instead of publishing beside the new active signer.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("tufpi.signer")

# "tufpi" in ASCII: one lock id for the whole database.
_LOCK_ID = 0x7475667069


class LeadershipLost(RuntimeError):
    """The election lock was lost while this process was the active signer."""


class Lease:
    """The outcome of an election: true if this process is the active signer."""

    def __init__(self, won: bool, check: Callable[[], bool] = lambda: True) -> None:
        self.won = won
        self._check = check

    def __bool__(self) -> bool:
        return self.won

    def held(self) -> bool:
        """Whether this process still holds the lock (asks the database on PostgreSQL)."""
        return self.won and self._check()


def _session_alive(conn: Connection) -> bool:
    # A session-level advisory lock lasts exactly as long as its session: if the session
    # still answers, the lock is still ours.
    try:
        conn.execute(text("SELECT 1"))
        conn.rollback()
    except DBAPIError:
        return False
    return True


def _standing_by(on_standby: Callable[[], None] | None) -> None:
    log.info("signer: standing by (another signer is active)")
    if on_standby is not None:
        on_standby()


@contextlib.contextmanager
def _file_lock(
    path: Path, stop: threading.Event, poll: float, on_standby: Callable[[], None] | None
) -> Iterator[Lease]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for attempt in itertools.count():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 0:
                    _standing_by(on_standby)
                if stop.wait(poll):
                    yield Lease(won=False)
                    return
        yield Lease(won=True)  # a file lock lasts as long as the open file: always held
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _advisory_lock(
    engine: Engine, stop: threading.Event, poll: float, on_standby: Callable[[], None] | None
) -> Iterator[Lease]:
    with engine.connect() as conn:
        for attempt in itertools.count():
            if conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": _LOCK_ID}).scalar():
                break
            conn.rollback()
            if attempt == 0:
                _standing_by(on_standby)
            if stop.wait(poll):
                yield Lease(won=False)
                return
        conn.commit()
        try:
            yield Lease(won=True, check=lambda: _session_alive(conn))
        finally:
            with contextlib.suppress(Exception):
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                conn.commit()


@contextlib.contextmanager
def leadership(
    engine: Engine,
    lock_file: Path,
    stop: threading.Event,
    poll: float = 1.0,
    on_standby: Callable[[], None] | None = None,
) -> Iterator[Lease]:
    """Block until this process is the active signer (yields a true ``Lease``) or ``stop``
    is set (a false one). ``on_standby`` is called once if another signer holds the lock."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, stop, poll, on_standby) as won:
            yield won
    else:
        with _file_lock(lock_file, stop, poll, on_standby) as won:
            yield won
