"""The index's domain: names and filenames, uploads, tokens, and the service over the database.

The names below are imported on first use (PEP 562): a process that needs one light module,
such as an inspection worker reading archives (``archive``, ``names``), does not import the
database layer with it (about 0.3 s of CPU and its memory, in every worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufpi.exports import lazy_exports

if TYPE_CHECKING:
    from tufpi.index.accounts import AccountService, Identity
    from tufpi.index.archive import Bounds
    from tufpi.index.errors import (
        ArchiveTooCostly,
        Busy,
        Forbidden,
        IndexProblem,
        InsufficientStorage,
        InvalidRequest,
        InvalidUpload,
        NotAuthenticated,
        NotFound,
        UploadTooLarge,
    )
    from tufpi.index.inspector import Inspector, Ticket, bounds_of
    from tufpi.index.journal import JournalView
    from tufpi.index.maintainers import MaintainerService, TokenView
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
    "InvalidRequest": "errors",
    "InvalidUpload": "errors",
    "NotAuthenticated": "errors",
    "NotFound": "errors",
    "UploadTooLarge": "errors",
    "Inspector": "inspector",
    "Ticket": "inspector",
    "bounds_of": "inspector",
    "JournalView": "journal",
    "MaintainerService": "maintainers",
    "TokenView": "maintainers",
    "IndexService": "service",
    "UploadResult": "service",
}


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
    "InvalidRequest",
    "InvalidUpload",
    "JournalView",
    "MaintainerService",
    "NotAuthenticated",
    "NotFound",
    "Ticket",
    "TokenView",
    "UploadResult",
    "UploadTooLarge",
    "accounts",
    "archive",
    "bounds_of",
    "core_metadata",
    "errors",
    "inspector",
    "journal",
    "latest",
    "logins",
    "maintainers",
    "mirrored",
    "names",
    "pages",
    "passwords",
    "permissions",
    "records",
    "rules",
    "search",
    "search_words",
    "service",
    "showcase",
    "signin",
    "sweep",
    "tokens",
    "totp",
    "upload",
    "views",
]

__getattr__ = lazy_exports(__name__, _HOMES, __all__)
