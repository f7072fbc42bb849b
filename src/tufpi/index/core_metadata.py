"""Read the core metadata (``METADATA`` / ``PKG-INFO``) out of a wheel or sdist.

The bytes are served as the PEP 658 ``.metadata`` file; the parsed fields feed the JSON API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name, canonicalize_version

from tufpi.index import archive
from tufpi.index.archive import MAX_METADATA_BYTES, Bounds
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename

__all__ = ["DEFAULT_BOUNDS", "MAX_METADATA_BYTES", "MAX_REQUIRES_PYTHON", "extract", "parse"]

DEFAULT_BOUNDS = Bounds()

# The width of releases.requires_python and files.requires_python (tufpi.db.models).
MAX_REQUIRES_PYTHON = 200


def extract(path: Path, dist: DistFilename, bounds: Bounds = DEFAULT_BOUNDS) -> bytes:
    """The raw core metadata bytes of the distribution at ``path``, read within ``bounds``
    (``tufpi.index.archive``).

    Raises:
        ArchiveTooCostly: reading it would pass one of ``bounds``.
        InvalidUpload: the archive is corrupt or holds no (single) metadata file.
    """
    return archive.read_core_metadata(path, dist, bounds)


def _shown(value: str) -> str:
    """``value`` with control and non-ASCII characters escaped, for a message (and a reason
    phrase, which may hold neither)."""
    return value.encode("unicode_escape").decode("ascii")


def _check_identity(raw: dict[str, Any], dist: DistFilename) -> None:
    name = raw.get("name")
    version = raw.get("version")
    if not name or not version:
        raise InvalidUpload(f"Core metadata in {dist.filename!r} lacks Name or Version.")
    if canonicalize_name(name) != dist.name:
        raise InvalidUpload(
            f"Core metadata in {dist.filename!r} is for project {name!r}, not {dist.name!r}."
        )
    if canonicalize_version(version) != canonicalize_version(dist.version):
        raise InvalidUpload(
            f"Core metadata in {dist.filename!r} is for version {_shown(version)}, "
            f"not {dist.version}."
        )


def _check_requires_python(raw: dict[str, Any], dist: DistFilename) -> None:
    # Installers filter files on it (PEP 503 data-requires-python), so it must parse.
    value = raw.get("requires_python")
    if value is None:
        return
    if len(value) > MAX_REQUIRES_PYTHON:
        raise InvalidUpload(
            f"Invalid Requires-Python in {dist.filename!r}: longer than "
            f"{MAX_REQUIRES_PYTHON} characters."
        )
    try:
        SpecifierSet(value)
    except InvalidSpecifier as e:
        raise InvalidUpload(
            f"Invalid Requires-Python {_shown(value)!r} in {dist.filename!r}: {e}"
        ) from e


def parse(data: bytes, dist: DistFilename) -> dict[str, Any]:
    """Parse core metadata and check it describes the same project and version.

    Returns packaging's raw metadata dict (JSON-serialisable).

    Raises:
        InvalidUpload: unparseable, holding a NUL byte or an invalid Requires-Python, or
            naming another project or version.
    """
    if b"\x00" in data:
        # No header or description has a use for NUL; PostgreSQL text cannot store it.
        raise InvalidUpload(f"Invalid core metadata in {dist.filename!r}: contains a NUL byte.")
    try:
        raw, _unparsed = parse_email(data)
    except ValueError as e:
        raise InvalidUpload(f"Invalid core metadata in {dist.filename!r}: {e}") from e
    fields = dict(raw)
    _check_identity(fields, dist)
    _check_requires_python(fields, dist)
    return fields
