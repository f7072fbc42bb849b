"""The index's domain: names and filenames, uploads, tokens, and the service over the database."""

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
