"""The index's domain: names and filenames, uploads, tokens, and the service over the database.

The names below are imported on first use (PEP 562): a process that needs one light module,
such as an inspection worker reading archives (``archive``, ``names``), does not import the
database layer with it (about 0.3 s of CPU and its memory, in every worker).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tufpi.index.accounts import AccountService, Identity
    from tufpi.index.archive import Bounds
    from tufpi.index.errors import (
        ArchiveTooCostly,
        Busy,
        Forbidden,
        IndexProblem,
        InsufficientStorage,
        InvalidUpload,
        NotAuthenticated,
        NotFound,
        UploadTooLarge,
    )
    from tufpi.index.inspector import Inspector, Ticket, bounds_of
    from tufpi.index.service import IndexService, UploadResult

# Each exported name's module.
_HOMES = {
    "AccountService": "accounts",
    "Identity": "accounts",
    "Bounds": "archive",
    "ArchiveTooCostly": "errors",
    "Busy": "errors",
    "Forbidden": "errors",
    "IndexProblem": "errors",
    "InsufficientStorage": "errors",
    "InvalidUpload": "errors",
    "NotAuthenticated": "errors",
    "NotFound": "errors",
    "UploadTooLarge": "errors",
    "Inspector": "inspector",
    "Ticket": "inspector",
    "bounds_of": "inspector",
    "IndexService": "service",
    "UploadResult": "service",
}


def __getattr__(name: str) -> Any:
    """An exported name or module, imported now."""
    home = _HOMES.get(name)
    if home is not None:
        return getattr(importlib.import_module(f"tufpi.index.{home}"), name)
    if name in __all__:
        return importlib.import_module(f"tufpi.index.{name}")
    raise AttributeError(f"module 'tufpi.index' has no attribute {name!r}")


__all__ = [
    "AccountService",
    "ArchiveTooCostly",
    "Bounds",
    "Busy",
    "Forbidden",
    "Identity",
    "IndexProblem",
    "IndexService",
    "Inspector",
    "InsufficientStorage",
    "InvalidUpload",
    "NotAuthenticated",
    "NotFound",
    "Ticket",
    "UploadResult",
    "UploadTooLarge",
    "accounts",
    "archive",
    "bounds_of",
    "core_metadata",
    "errors",
    "inspector",
    "mirrored",
    "names",
    "pages",
    "records",
    "rules",
    "service",
    "sweep",
    "tokens",
    "upload",
    "views",
]
