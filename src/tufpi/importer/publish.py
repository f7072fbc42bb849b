"""Hold the signer election for the whole import, then publish every target in one batch.

While the import holds the lock no signer can publish a partial import; a signer already
active is waited for (bounded), and if it does not stop the import refuses to start.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import TargetChange
from tufpi.signer import leadership
from tufpi.trust.publisher import Publisher, PublishResult


class SignerActive(Exception):
    """Another signer holds the election lock and did not stop in time."""


@contextlib.contextmanager
def signer_lock(
    engine: Engine, lock_file: Path, wait: float, on_wait: Callable[[], None]
) -> Iterator[None]:
    """Hold the signer election lock; wait up to ``wait`` seconds for an active signer.

    Raises:
        SignerActive: the lock stayed taken for ``wait`` seconds.
    """
    at_once = threading.Event()
    at_once.set()  # try once, without waiting
    with leadership(engine, lock_file, at_once) as won:
        if won:
            yield
            return
    on_wait()
    stop = threading.Event()
    timer = threading.Timer(wait, stop.set)
    timer.start()
    try:
        with leadership(engine, lock_file, stop, poll=0.5) as won:
            timer.cancel()
            if not won:
                raise SignerActive(
                    f"another signer (tufpi serve or tufpi signer) is active and did not stop "
                    f"within {wait:g} s: stop it for the import, or pass --no-publish to "
                    "leave publication to it"
                )
            yield
    finally:
        timer.cancel()


def pending_changes(sessions: sessionmaker[Session]) -> int:
    """Target changes no snapshot has published yet."""
    with sessions() as session:
        count = session.scalar(
            select(func.count(TargetChange.id)).where(TargetChange.published_version.is_(None))
        )
    return int(count or 0)


def publish_all(publisher: Publisher) -> PublishResult:
    """Publish every pending change in one batch (one snapshot, one timestamp): a
    publication re-signs every bin with a pending change, from all of its rows."""
    return publisher.publish()
