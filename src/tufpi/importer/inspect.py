"""Read one distribution file: hash it, check the hash its source claims, read its core
metadata. Runs in worker processes; file in, ``InspectedDist`` or ``Rejection`` out.

The checks are the upload API's own (``index.upload``, ``index.core_metadata``), so an
imported file passes exactly what an uploaded one must.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from pathlib import Path

from tufpi.importer.model import SkipReason
from tufpi.importer.plan import python_version
from tufpi.index import core_metadata
from tufpi.index.archive import Bounds
from tufpi.index.errors import ArchiveTooCostly, InvalidUpload
from tufpi.index.names import (
    SDIST_SUFFIXES,
    DistFilename,
    check_project_name,
    parse_dist_filename,
    parse_version,
)
from tufpi.index.upload import MAX_PYVERSION, Digests, InspectedDist, StagedFile, hash_file

_DIST_SUFFIXES = (".whl", *SDIST_SUFFIXES)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """Why a file cannot be imported."""

    reason: SkipReason
    detail: str


def parse_filename(filename: str) -> DistFilename | Rejection:
    """What a filename says, or why tufpi cannot take it (pure)."""
    if not filename.endswith(_DIST_SUFFIXES):
        return Rejection(
            SkipReason.NOT_A_DISTRIBUTION, "not a wheel (.whl) or sdist (.tar.gz, .zip)"
        )
    try:
        dist = parse_dist_filename(filename)
    except InvalidUpload as e:
        return Rejection(SkipReason.BAD_FILENAME, e.message)
    if len(python_version(dist)) > MAX_PYVERSION:
        return Rejection(SkipReason.BAD_FILENAME, "its Python tag is too long")
    return dist


def _hash_matches(path: Path, digests: Digests, expected: tuple[str, str]) -> bool:
    name, value = expected
    known = {"sha256": digests.sha256, "sha512": digests.sha512, "md5": digests.md5}
    actual = known.get(name)
    if actual is None:
        try:
            with path.open("rb") as f:
                actual = hashlib.file_digest(f, name).hexdigest()
        except ValueError:
            return False  # a hash we cannot compute cannot vouch for the file
    return hmac.compare_digest(actual.encode(), value.lower().encode())


def _metadata(
    path: Path, dist: DistFilename, bounds: Bounds
) -> tuple[bytes, dict[str, object]] | Rejection:
    try:
        data = core_metadata.extract(path, dist, bounds)
    except ArchiveTooCostly as e:
        return Rejection(SkipReason.TOO_COSTLY, e.message)
    except InvalidUpload as e:
        # extract wraps the archive readers' errors (the cause); without one, the archive
        # was read and holds no single metadata file.
        reason = SkipReason.CORRUPT_ARCHIVE if e.__cause__ else SkipReason.MISSING_METADATA
        return Rejection(reason, e.message)
    try:
        fields = core_metadata.parse(data, dist)
        # What the upload form would have carried: a valid name and version.
        check_project_name(str(fields["name"]))
        parse_version(str(fields["version"]))
    except InvalidUpload as e:
        return Rejection(SkipReason.INVALID_METADATA, e.message)
    return data, fields


def inspect_file(
    path: Path,
    dist: DistFilename,
    expected: tuple[str, str] | None,
    bounds: Bounds = core_metadata.DEFAULT_BOUNDS,
) -> InspectedDist | Rejection:
    """Hash ``path`` and read its core metadata within ``bounds``, checking it as an upload
    would be checked."""
    try:
        digests = hash_file(path)
        if expected is not None and not _hash_matches(path, digests, expected):
            return Rejection(
                SkipReason.HASH_MISMATCH, f"its {expected[0]} is not the one the source lists"
            )
    except OSError as e:
        return Rejection(SkipReason.UNREADABLE, str(e))
    if digests.size == 0:
        return Rejection(SkipReason.CORRUPT_ARCHIVE, "the file is empty")
    read = _metadata(path, dist, bounds)
    if isinstance(read, Rejection):
        return read
    data, fields = read
    return InspectedDist(dist, StagedFile(path, digests), data, fields)
