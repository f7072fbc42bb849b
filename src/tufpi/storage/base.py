"""The storage interface: a flat namespace of keys such as ``packages/ab/cd/.../x.whl``.

Keys are also URL paths under the index root, so a static server, CDN or rsync mirror can
serve a storage tree unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class StorageError(Exception):
    """A storage operation failed."""


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
        """All stored keys under ``prefix``."""
