"""Why a download was refused, in plain words (pure: an exception in, a message out)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tuf.api import exceptions


class Refusal(Exception):
    """The verifying client will not hand this page or file to the installer."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotListed(Refusal):
    """The signed metadata does not list the requested page or file."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not listed in the signed metadata: {what}", status=404)


_VERSION = re.compile(r"New (\w+) version (\d+) must be >= (\d+)")


def _rollback(error: Exception, what: str) -> str:
    match = _VERSION.search(str(error))
    if match:
        role, new, trusted = match.groups()
        return f"rollback: {role} version {new} is older than the trusted {trusted} ({what})"
    return f"rollback or mix-and-match: {error} ({what})"


# Most specific first: each python-tuf error, the words an installer's user reads, the status.
_EXPLANATIONS: list[tuple[type[Exception], Callable[[Exception, str], str], int]] = [
    (exceptions.BadVersionNumberError, _rollback, 502),
    (
        exceptions.ExpiredMetadataError,
        lambda e, what: (
            f"metadata expired: {e}; the index or a mirror serves stale metadata ({what})"
        ),
        502,
    ),
    (
        exceptions.LengthOrHashMismatchError,
        lambda e, what: f"file hash does not match the signed metadata: {what} ({e})",
        502,
    ),
    (
        exceptions.DownloadLengthMismatchError,
        lambda _e, what: f"more data than the signed metadata allows (endless data): {what}",
        502,
    ),
    (
        exceptions.SlowRetrievalError,
        lambda e, what: f"download too slow (slow retrieval): {what}: {e}",
        504,
    ),
    (
        exceptions.UnsignedMetadataError,
        lambda e, what: f"bad signature on the metadata: {e} ({what})",
        502,
    ),
    (
        exceptions.DownloadHTTPError,
        lambda e, what: f"the index answered HTTP {getattr(e, 'status_code', '?')} for {what}",
        502,
    ),
    (exceptions.DownloadError, lambda e, what: f"download failed: {what}: {e}", 502),
]


def explain(error: Exception, what: str) -> Refusal:
    """Turn a python-tuf error met while fetching ``what`` into a Refusal with a reason."""
    for kind, words, status in _EXPLANATIONS:
        if isinstance(error, kind):
            return Refusal(words(error, what), status)
    return Refusal(f"verification failed: {what}: {error}")
