"""What an import passes between its steps: what a source offers, why a file is skipped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from tufpi.index.names import DistFilename


class SkipReason(enum.StrEnum):
    """Why a file of the source was not imported (the summary groups by these)."""

    NOT_A_DISTRIBUTION = "not a distribution"
    BAD_FILENAME = "unparseable filename"
    WRONG_PROJECT = "listed under another project"
    UNREADABLE = "unreadable"
    HASH_MISMATCH = "hash mismatch"
    CORRUPT_ARCHIVE = "corrupt archive"
    TOO_COSTLY = "past an inspection bound"
    MISSING_METADATA = "missing metadata"
    INVALID_METADATA = "invalid metadata"
    CONFLICT = "conflict"
    AMBIGUOUS = "listed twice, differently"
    TOO_SLOW = "past a time bound"
    TOO_BIG = "past a size bound"


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A file left out, where it was and why."""

    location: str
    reason: SkipReason
    detail: str


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A distribution file a source offers, before it is read.

    Attributes:
        location: a path for local sources, a URL for an index.
        dist: what its filename says.
        expected: a hash the source claims, as (hashlib name, hex digest).
        upload_time: PEP 700's upload-time when the source gives one.
        size: PEP 700's size when the source gives one: a download is cut past it.
    """

    location: str
    dist: DistFilename
    expected: tuple[str, str] | None = None
    upload_time: dt.datetime | None = None
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class Group:
    """The candidates of one project (by normalised name), imported in one transaction."""

    project: str
    candidates: tuple[Candidate, ...]
