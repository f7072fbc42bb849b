"""The staged writes of one transaction: made visible together once it has committed."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from tufpi.storage.base import Staged, Storage, StorageError


class StagedWrites:
    """Writes staged for one database transaction, published in the order staged.

    Stage before the commit (``stage``); after it, ``publish``; if it never comes,
    ``discard``. Staging may run in several threads at once.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._staged: list[Staged] = []
        self._guard = threading.Lock()

    def stage(self, key: str, content: bytes | Path) -> None:
        """Stage ``content`` for ``key`` (see ``Storage.stage``).

        Raises:
            StorageFull: no space left.
        """
        staged = self.storage.stage(key, content)
        with self._guard:
            self._staged.append(staged)

    def adopt(self, staged: Staged) -> None:
        """Take ``staged`` (for example from ``Storage.unpublish``) into this set."""
        with self._guard:
            self._staged.append(staged)

    @property
    def keys(self) -> list[str]:
        """The keys staged so far, in order."""
        with self._guard:
            return [s.key for s in self._staged]

    def publish(self) -> None:
        """Make every staged write visible, in the order staged (files before the pages
        that link to them)."""
        with self._guard:
            staged, self._staged = self._staged, []
        for entry in staged:
            self.storage.publish(entry)

    def discard(self) -> None:
        """Drop every staged write; errors are left to the sweep (it drops what no row
        backs), so that this never hides the error that led here."""
        with self._guard:
            staged, self._staged = self._staged, []
        for entry in staged:
            with contextlib.suppress(StorageError, OSError):
                self.storage.discard(entry)
