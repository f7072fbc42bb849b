"""Storage backends for distributions, pages and metadata."""

from tufpi.storage.base import Storage, StorageError
from tufpi.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError"]
