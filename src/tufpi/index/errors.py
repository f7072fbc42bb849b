"""The index layer's exceptions; routes turn them into HTTP answers."""

from __future__ import annotations


class IndexProblem(Exception):
    """Base of every error the index reports to a client."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidUpload(IndexProblem):
    """The upload is malformed, inconsistent or not allowed as sent (400)."""


class InvalidRequest(IndexProblem):
    """A request to manage the index that is malformed or asks what cannot be (400)."""


class UploadTooLarge(IndexProblem):
    """The body exceeds the configured limit (413)."""

    status = 413


class NotAuthenticated(IndexProblem):
    """No credentials, or credentials we do not recognise (401)."""

    status = 401


class Forbidden(IndexProblem):
    """Valid credentials that may not do this (403)."""

    status = 403


class NotFound(IndexProblem):
    """No such project, release or file (404)."""

    status = 404


class Unavailable(IndexProblem):
    """The index cannot accept this now, e.g. before its metadata is initialised (503)."""

    status = 503


class ArchiveTooCostly(InvalidUpload):
    """Reading the archive would pass an inspection bound: members, inflated bytes,
    compression ratio, time or memory (400). The message names the bound and its value."""


class Busy(Unavailable):
    """Too many uploads are being inspected at once; the client should retry (503, with
    Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientStorage(IndexProblem):
    """The storage is full: nothing was kept, the index is unchanged (507)."""

    status = 507
