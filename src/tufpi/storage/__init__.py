"""Storage backends for distributions, pages and metadata."""

from tufpi.storage.base import (
    Staged,
    StagedEntry,
    Storage,
    StorageError,
    StorageFull,
    is_disk_full,
)
from tufpi.storage.local import LocalStorage
from tufpi.storage.writes import StagedWrites

__all__ = [
    "LocalStorage",
    "Staged",
    "StagedEntry",
    "StagedWrites",
    "Storage",
    "StorageError",
    "StorageFull",
    "is_disk_full",
]
