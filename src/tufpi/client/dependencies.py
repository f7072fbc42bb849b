"""Refuse a verified distribution that would make the installer fetch something unverified.

A requirement on a URL (``Requires-Dist: payload @ http://host/payload.whl``, PEP 508's
direct reference) makes pip and uv fetch and install ``payload`` from that URL, past the
verifying proxy: the signed metadata vouches for the distribution that declares it, not for
what the URL serves. The index refuses such uploads (``tufpi.index.core_metadata``, as PyPI
does), but a repository signed before that rule, or another TUF repository, may hold one.

The proxy asks here before it hands out a verified distribution or its PEP 658 metadata file:
``check_distribution`` reads the core metadata out of the file (bounded: one member of a
wheel, capped; an sdist's ``PKG-INFO`` within the index's own archive bounds) and
``check_core_metadata`` reads the metadata file itself. A distribution declaring a direct
reference in ``Requires-Dist`` is refused with a ``Refusal`` naming it. What this cannot see,
an sdist's build requirements and what its build computes, ``tufpi.client.forward`` refuses
when the installer asks for it.

Pure of HTTP: bytes or a local (verified) file in, a verdict out.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path, PurePosixPath

from packaging.metadata import parse_email

from tufpi.client.refusals import Refusal
from tufpi.index.archive import Bounds, declared_zip_entries, read_core_metadata
from tufpi.index.core_metadata import direct_references
from tufpi.index.errors import ArchiveTooCostly, InvalidUpload
from tufpi.index.names import DistFilename, parse_dist_filename

__all__ = ["METADATA_MAX_LENGTH", "check_core_metadata", "check_distribution"]

# A wheel's METADATA is read up to this (as the PEP 658 file: fetcher.CORE_METADATA_MAX_LENGTH).
METADATA_MAX_LENGTH = 10 * 1024 * 1024
# What reading a verified sdist's PKG-INFO may cost: the bounds the index reads uploads with.
_SDIST_BOUNDS = Bounds()
# Entries a wheel may declare before its central directory is parsed (the index's bound).
_MAX_WHEEL_ENTRIES = _SDIST_BOUNDS.members
_CHUNK = 64 * 1024
# Verdicts kept, one per verified file (immutable: its name and size come from its hash).
_CACHED_VERDICTS = 4096
# Where installers take dependencies from: Requires-Dist alone (Provides-Dist and
# Obsoletes-Dist are never fetched).
_FOLLOWED = ("requires_dist",)


def _refusal(filename: str, requirement: str) -> Refusal:
    return Refusal(
        f"{filename!r} declares a direct URL dependency {requirement!r}, which is not a "
        "verified target: refused"
    )


def check_core_metadata(data: bytes, filename: str) -> None:
    """Refuse core metadata (``METADATA``, ``PKG-INFO`` or a PEP 658 file) that makes an
    installer fetch a dependency from a URL.

    Raises:
        Refusal: a ``Requires-Dist`` names a URL (or does not parse and may hold one), or
            the metadata cannot be read at all.
    """
    try:
        raw, unparsed = parse_email(data)
    except ValueError as e:
        raise Refusal(f"the core metadata of {filename!r} cannot be read: {e}") from e
    fields: dict[str, object] = dict(raw)
    # A Requires-Dist packaging could not decode is still read by some installer.
    fields["requires_dist"] = [*raw.get("requires_dist", []), *unparsed.get("requires-dist", [])]
    found = direct_references(fields, _FOLLOWED)
    if found:
        raise _refusal(filename, found[0][1])


def _is_wheel_metadata(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA"


def _wheel_metadata(path: Path, filename: str) -> bytes:
    """The one ``*.dist-info/METADATA`` of a wheel, read up to ``METADATA_MAX_LENGTH``
    (whatever the archive declares), after a bounded look at the entry count."""
    declared = declared_zip_entries(path)
    if declared is not None and declared > _MAX_WHEEL_ENTRIES:
        raise Refusal(f"{filename!r} declares more than {_MAX_WHEEL_ENTRIES} archive entries")
    with zipfile.ZipFile(path) as archive:
        found = [info for info in archive.infolist() if _is_wheel_metadata(info.filename)]
        if len(found) != 1:
            raise Refusal(
                f"{filename!r} holds {len(found)} .dist-info/METADATA files, not one: "
                "its dependencies cannot be checked"
            )
        data = bytearray()
        with archive.open(found[0]) as member:
            while len(data) <= METADATA_MAX_LENGTH and (chunk := member.read(_CHUNK)):
                data += chunk
    if len(data) > METADATA_MAX_LENGTH:
        raise Refusal(f"{filename!r}: its METADATA is larger than {METADATA_MAX_LENGTH} bytes")
    return bytes(data)


def _core_metadata(path: Path, dist: DistFilename) -> bytes:
    try:
        if dist.packagetype == "bdist_wheel":
            return _wheel_metadata(path, dist.filename)
        return read_core_metadata(path, dist, _SDIST_BOUNDS)
    except (ArchiveTooCostly, InvalidUpload) as e:
        raise Refusal(f"{dist.filename!r}: {e.message}: its dependencies cannot be checked") from e
    # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
        raise Refusal(
            f"{dist.filename!r} cannot be read ({e}): its dependencies cannot be checked"
        ) from e


@functools.lru_cache(maxsize=_CACHED_VERDICTS)
def _verdict(path: str, size: int, mtime_ns: int, filename: str) -> Refusal | None:
    """The refusal of a file, if any; cached per file (its path, size and time of change)."""
    del size, mtime_ns  # part of the cache key only
    try:
        dist = parse_dist_filename(filename)
    except InvalidUpload:
        return None  # not a distribution: nothing an installer takes dependencies from
    try:
        check_core_metadata(_core_metadata(Path(path), dist), filename)
    except Refusal as e:
        return e
    return None


def check_distribution(path: Path, filename: str) -> None:
    """Refuse a verified distribution (a wheel or sdist at ``path``, named ``filename``)
    whose core metadata makes an installer fetch a dependency from a URL, or whose core
    metadata cannot be read within bounds. Other files pass. Verdicts are cached per file.

    Raises:
        Refusal: naming the requirement (or why the metadata cannot be read).
    """
    stat = path.stat()
    refusal = _verdict(str(path), stat.st_size, stat.st_mtime_ns, filename)
    if refusal is not None:
        raise Refusal(refusal.message, refusal.status)
