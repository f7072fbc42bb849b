"""The signer loop: publish pending changes in batches, keep online roles fresh, sweep.

Runs as ``tufpi signer``: on its own, or as the child process that ``tufpi serve`` starts
and supervises (the embedded default, ``tufpi.signer.child``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from sqlalchemy import Engine

from tufpi.signer.election import LeadershipLost, Lease, leadership
from tufpi.storage import is_disk_full
from tufpi.trust.publisher import Publisher, PublishResult

log = logging.getLogger("tufpi.signer")
# Sweep superseded files at most this often (seconds).
_SWEEP_EVERY = 60.0
# On a full disk, wait this long before retrying, doubling up to the maximum (seconds).
_FULL_FIRST_WAIT = 1.0
_FULL_MAX_WAIT = 60.0


class DiskFullBackoff:
    """How long to wait after each publication that found the disk full: one log line when
    the disk fills and one when it has room again, not a traceback per attempt."""

    def __init__(self, first: float = _FULL_FIRST_WAIT, maximum: float = _FULL_MAX_WAIT) -> None:
        self.first = first
        self.maximum = maximum
        self.wait: float | None = None  # None: the last publication did not find it full
        self.attempts = 0

    def full(self, error: BaseException) -> float:
        """Record a publication that failed on a full disk; returns the seconds to wait."""
        self.attempts += 1
        if self.wait is None:
            log.warning(
                "signer: the storage is full: %s Publication paused; retrying with backoff, "
                "up to every %.0f s.",
                error,
                self.maximum,
            )
            self.wait = self.first
        else:
            self.wait = min(self.wait * 2, self.maximum)
            log.debug("signer: storage still full (attempt %d)", self.attempts)
        return self.wait

    def ok(self) -> None:
        """Record a publication that succeeded."""
        if self.wait is not None:
            log.warning("signer: the storage has room again; publishing resumed")
        self.wait = None
        self.attempts = 0


def sign_until_stopped(
    publisher: Publisher,
    engine: Engine,
    lock_file: Path,
    stop: threading.Event,
    interval: float,
    on_ready: Callable[[PublishResult], None] | None = None,
    on_standby: Callable[[], None] | None = None,
    housekeeping: Callable[[], object] | None = None,
) -> None:
    """Become the active signer, publish at once (freshness after downtime), then every
    ``interval`` seconds until ``stop`` is set (a publication under way is finished first).

    ``on_ready`` is called after the first publication; ``on_standby`` if another signer
    is active first (this one then waits to take over); ``housekeeping`` (the staging
    sweep) with the sweep of superseded metadata. On a full disk it backs off, quietly.

    Raises:
        LeadershipLost: the election lock was lost (its database session ended); the
            process should exit with an error, and be started again as a standby.
    """
    with leadership(engine, lock_file, stop, on_standby=on_standby) as leader:
        if not leader:
            return
        log.info("signer: active")
        _check_lease_before_publishing(publisher, leader)
        ready = False
        last_sweep = time.monotonic()
        backoff = DiskFullBackoff()
        # Publish at once (freshness after downtime), then every interval.
        while not stop.is_set():
            if not leader.held():
                _lost()
            wait = interval
            try:
                result = publisher.publish()
                backoff.ok()
                _log(result)
                if not ready and on_ready is not None:
                    on_ready(result)
                ready = True
                if time.monotonic() - last_sweep > _SWEEP_EVERY:
                    _sweep(publisher, housekeeping)
                    last_sweep = time.monotonic()
            except LeadershipLost:
                _lost()
            except Exception as e:
                # Keep signing: a failed batch leaves its changes pending for the next one.
                publisher.forget()
                if is_disk_full(e):
                    wait = max(interval, backoff.full(e))
                else:
                    log.exception("signer: publication failed; will retry")
            stop.wait(wait)


def _sweep(publisher: Publisher, housekeeping: Callable[[], object] | None) -> None:
    swept = publisher.sweep()
    if swept:
        log.info("signer: swept %d superseded metadata files", swept)
    if housekeeping is not None:
        housekeeping()


def _lost() -> NoReturn:
    # Another signer may be active by now: publishing too would fork the metadata.
    log.error("signer: lost the election lock (its database session ended)")
    raise LeadershipLost("lost the election lock; stopped signing")


def _check_lease_before_publishing(publisher: Publisher, lease: Lease) -> None:
    """Check the lease again once a batch's bins are signed, before its snapshot and
    timestamp make them current: a long batch (every bin re-signed, daily) must not
    complete after the lock was lost and another signer took over."""
    inner = publisher.checkpoint

    def checkpoint(name: str) -> None:
        inner(name)
        if name == "bins" and not lease.held():
            raise LeadershipLost("lost the election lock during a publication")

    publisher.checkpoint = checkpoint


def _log(result: PublishResult) -> None:
    if result.published:
        log.info(
            "signer: published snapshot %d (timestamp %d): %d bins, %d changes",
            result.snapshot_version,
            result.timestamp_version,
            result.bins,
            result.changes,
        )
