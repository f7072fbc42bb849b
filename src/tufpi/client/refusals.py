"""Why a download was refused, in plain words (pure: an exception in, a message out)."""

from __future__ import annotations

import datetime as dt
import re
import traceback
from collections.abc import Callable

from tuf.api import exceptions

from tufpi.client.download_errors import Redirected, SlowDownload, TooLong

REFUSED = 403


class Refusal(Exception):
    """The verifying client will not hand this page or file to the installer."""

    # 403, not a 5xx: pip retries 5xx answers and then loses the reason; a 4xx it reports
    # at once, with the reason phrase that carries our words.
    def __init__(self, message: str, status: int = REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotListed(Refusal):
    """The signed metadata does not list the requested page or file."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not listed in the signed metadata: {what}", status=404)


class NotFound(NotListed):
    """Neither the signed metadata nor the index has the requested page or file."""

    def __init__(self, what: str) -> None:
        Refusal.__init__(self, f"not found: {what}", status=404)


# python-tuf's words for each version check (trusted_metadata_set.py), and ours, after the
# TUF client workflow: rollback, a version older than the one the client already trusts;
# mix-and-match, not the version the parent role names (a set that never existed together).
_VERSION_CHECKS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"New (\w+) version (\d+) must be >= (\d+)"),
        lambda m: f"rollback: {m[1]} version {m[2]} is older than the trusted {m[3]}",
    ),
    (
        re.compile(r"New snapshot version must be >= (\d+), got version (\d+)"),
        lambda m: f"rollback: snapshot version {m[2]} is older than the trusted {m[1]}",
    ),
    (  # the first number is the new version, the second the trusted one
        re.compile(r"Expected ([\w.-]+)\.json version (\d+), got (\d+)"),
        lambda m: f"rollback: {m[1]} version {m[2]} is older than the trusted {m[3]}",
    ),
    (
        re.compile(r"Expected ([\w.-]+) v(\d+), got v(\d+)"),
        lambda m: (
            f"mix-and-match: {m[1]} version {m[3]} is not the version {m[2]} the snapshot names"
        ),
    ),
    (
        re.compile(r"Expected snapshot version (\d+), got (\d+)"),
        lambda m: (
            f"mix-and-match: snapshot version {m[2]} is not the version {m[1]} the timestamp names"
        ),
    ),
]


def _version(error: Exception, what: str) -> str:
    for pattern, words in _VERSION_CHECKS:
        match = pattern.search(str(error))
        if match:
            return f"{words(match)} ({what})"
    return f"rollback or mix-and-match: {error} ({what})"


_EXPIRED_ROLE = re.compile(r"(root|timestamp|snapshot)\.json is expired")


def _expiry(error: Exception) -> dt.datetime | None:
    """When the refused metadata expired, if python-tuf's refusing frame still shows it.

    ``ExpiredMetadataError`` carries only a role name, and ngclient has no public way to
    read the metadata it refused. Best effort: the innermost frame of the traceback that
    holds the role (``new_delegate`` for a delegated role, the trusted set's ``root``,
    ``timestamp`` or ``snapshot``); None if python-tuf changes those names.
    """
    role = _EXPIRED_ROLE.search(str(error))
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    for frame in reversed(frames):
        if role is None:
            signed = frame.f_locals.get("new_delegate")
        else:
            try:
                signed = getattr(frame.f_locals.get("self"), role[1], None)
            except KeyError:  # the trusted set's property, for a role not loaded
                signed = None
        expires = getattr(signed, "expires", None)
        if isinstance(expires, dt.datetime):
            return expires
    return None


def _expired(error: Exception, what: str) -> str:
    expires = _expiry(error)
    when = f" on {expires:%Y-%m-%d %H:%M:%S} UTC" if expires is not None else ""
    return f"metadata expired{when} ({error}): the index or a mirror serves stale metadata ({what})"


_OBSERVED_LENGTH = re.compile(r"Observed length (\d+) does not match expected length (\d+)")


def _mismatch(error: Exception, what: str) -> str:
    """python-tuf checked the length, then the hashes, the signed metadata gives."""
    length = _OBSERVED_LENGTH.search(str(error))
    if length:
        return (
            f"file does not match the signed metadata (wrong length: {length[1]} bytes, "
            f"signed {length[2]}): {what}"
        )
    return f"file hash does not match the signed metadata: {what} ({error})"


def _too_long(error: Exception, what: str) -> str:
    """A signed length exceeded: not the file signed (swapped, or endless); no signed length,
    the client's cap exceeded: endless data (TUF's endless data attack)."""
    if isinstance(error, TooLong) and error.kind == "signed":
        return (
            f"file does not match the signed metadata (longer than its signed length of "
            f"{error.limit} bytes): {what}"
        )
    if isinstance(error, TooLong):
        encoded = " (before decoding)" if error.encoded else ""
        name = error.url.rpartition("/")[2]
        return (
            f"endless data: {name!r} is longer than the {error.limit} bytes the client accepts"
            f"{encoded}: {what}"
        )
    return f"more data than allowed (endless data): {what}: {error}"


def _slow(error: Exception, what: str) -> str:
    if isinstance(error, SlowDownload):
        return f"slow retrieval: {error.summary}: {what}"
    return f"slow retrieval: {what}: {error}"


def _http(error: Exception, what: str) -> str:
    if isinstance(error, Redirected):
        return (
            f"the index answered HTTP {error.status_code}, a redirect (to {error.location!r}) "
            f"the client does not follow: {what}"
        )
    return f"the index answered HTTP {getattr(error, 'status_code', '?')} for {what}"


# Most specific first: each python-tuf error, the words an installer's user reads, the status.
_EXPLANATIONS: list[tuple[type[Exception], Callable[[Exception, str], str], int]] = [
    (exceptions.BadVersionNumberError, _version, REFUSED),
    (exceptions.ExpiredMetadataError, _expired, REFUSED),
    (exceptions.LengthOrHashMismatchError, _mismatch, REFUSED),
    (exceptions.DownloadLengthMismatchError, _too_long, REFUSED),
    (exceptions.SlowRetrievalError, _slow, 504),
    (
        exceptions.UnsignedMetadataError,
        lambda e, what: f"bad signature on the metadata: {e} ({what})",
        REFUSED,
    ),
    (exceptions.DownloadHTTPError, _http, REFUSED),
    (exceptions.DownloadError, lambda e, what: f"download failed: {what}: {e}", REFUSED),
]


def explain(error: Exception, what: str) -> Refusal:
    """Turn a python-tuf error met while fetching ``what`` into a Refusal with a reason."""
    for kind, words, status in _EXPLANATIONS:
        if isinstance(error, kind):
            return Refusal(words(error, what), status)
    return Refusal(f"verification failed: {what}: {error}")
