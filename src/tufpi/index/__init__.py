"""The index's domain: names and filenames, uploads, tokens, and the service over the database."""

from tufpi.index.accounts import AccountService, Identity
from tufpi.index.errors import (
    Forbidden,
    IndexProblem,
    InsufficientStorage,
    InvalidUpload,
    NotAuthenticated,
    NotFound,
    UploadTooLarge,
)
from tufpi.index.service import IndexService, UploadResult

__all__ = [
    "AccountService",
    "Forbidden",
    "Identity",
    "IndexProblem",
    "IndexService",
    "InsufficientStorage",
    "InvalidUpload",
    "NotAuthenticated",
    "NotFound",
    "UploadResult",
    "UploadTooLarge",
]
