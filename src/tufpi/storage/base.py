"""The storage interface: a flat namespace of keys such as ``packages/ab/cd/.../x.whl``.

Keys are also URL paths under the index root, so a static server, CDN or rsync mirror can
serve a storage tree unchanged.

Writes that belong to a database transaction are *staged* first (``stage``): kept where
nothing serves them, durable, and made visible under their key only once the transaction
has committed (``publish``), or dropped if it did not (``discard``). A process killed in
between leaves staged entries; ``staged_entries`` reports them, with whether their writer is
still alive, so that a sweep can publish those whose rows committed and drop the rest.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class StorageError(Exception):
    """A storage operation failed."""


class StorageFull(StorageError):
    """The storage has no space left (ENOSPC, or a quota: EDQUOT)."""


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an exception it was raised from, says the disk is full.

    Covers ``StorageFull``, a raw ``OSError`` (ENOSPC, EDQUOT) and SQLite's "database or
    disk is full" (whose driver error carries no errno).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull):
            return True
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        if "database or disk is full" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


@dataclasses.dataclass(frozen=True)
class Staged:
    """Content written for ``key`` but not visible under it yet."""

    key: str
    handle: str  # the backend's name for the staged copy


@dataclasses.dataclass(frozen=True)
class StagedEntry:
    """A staged write found in the staging area, for a sweep to decide on."""

    staged: Staged
    writer_alive: bool  # the process that staged it may still publish or discard it
    age: float  # seconds since it was staged


class Storage(Protocol):
    """Where distributions, pages and metadata files live."""

    def put_file(self, key: str, source: BinaryIO) -> None:
        """Store the rest of ``source`` under ``key``, atomically (readers never see half)."""

    def put_bytes(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Store ``data`` under ``key``, atomically; with ``durable=False`` it may not reach
        the disk until the next ``sync`` (for many files written at once)."""

    def sync(self) -> None:
        """Make every write so far durable (after ``put_bytes(..., durable=False)``)."""

    def link(self, source: str, alias: str) -> None:
        """Make ``alias`` another name for the stored ``source`` (a hard link where possible)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    def local_path(self, key: str) -> Path | None:
        """A path to serve ``key`` from directly, when the backend is local; else None."""

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for reading. Raises FileNotFoundError if absent."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are ignored."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """All stored (visible) keys under ``prefix``."""

    # -- staged writes ----------------------------------------------------------------------

    def scratch_dir(self) -> Path:
        """A local directory, never served, for this process's temporary files (an upload's
        body while it is inspected); what a killed process leaves there is swept."""

    def stage(self, key: str, content: bytes | Path) -> Staged:
        """Write ``content`` (bytes, or the file at a local path) for ``key``, durably,
        where it is never served; ``key`` is unchanged until ``publish``.

        Raises:
            StorageFull: no space left.
            StorageError: ``key`` is not a valid key.
        """

    def publish(self, staged: Staged) -> None:
        """Make staged content visible under its key, atomically, without needing new space.
        A staged entry already published or discarded is ignored."""

    def discard(self, staged: Staged) -> None:
        """Drop staged content; an entry already published or discarded is ignored."""

    def unpublish(self, key: str) -> Staged | None:
        """Move ``key`` back out of view, as a staged entry (None if ``key`` is absent), so
        that a removal can still be undone (``publish``) until its transaction commits."""

    def staged_entries(self, now: float) -> Iterator[StagedEntry]:
        """Every staged entry, with whether its writer still runs; ``now`` is the wall-clock
        time in seconds since the epoch (``clock().timestamp()``) to measure ages against."""

    def clear_scratch(self, now: float, max_age: float) -> int:
        """Delete temporary files of dead processes, and those of live ones older than
        ``max_age`` seconds; returns how many were deleted."""
