"""Read the core metadata (``METADATA`` / ``PKG-INFO``) out of a wheel or sdist.

The bytes are served as the PEP 658 ``.metadata`` file; the parsed fields feed the JSON API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import packaging.metadata
from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from tufpi.index import archive
from tufpi.index.archive import MAX_METADATA_BYTES, Bounds
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename

__all__ = [
    "DEFAULT_BOUNDS",
    "MAX_METADATA_BYTES",
    "MAX_REQUIRES_PYTHON",
    "REQUIREMENT_FIELDS",
    "direct_references",
    "extract",
    "parse",
]

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
    # The width of the column; that it parses is checked with the rest (``_check_strict``).
    value = raw.get("requires_python")
    if value is not None and len(value) > MAX_REQUIRES_PYTHON:
        raise InvalidUpload(
            f"Invalid Requires-Python in {dist.filename!r}: longer than "
            f"{MAX_REQUIRES_PYTHON} characters."
        )


# packaging's own tables of header names (private: read defensively).
_RAW_TO_EMAIL: dict[str, str] = getattr(packaging.metadata, "_RAW_TO_EMAIL_MAPPING", {})
_EMAIL_TO_RAW: dict[str, str] = getattr(packaging.metadata, "_EMAIL_TO_RAW_MAPPING", {})


def _field_name(field: str) -> str:
    """The header name of a field packaging reports by its raw name (``requires_dist``)."""
    name = _RAW_TO_EMAIL.get(field, field)
    return "-".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _unparsed_problem(key: str, values: list[str]) -> str:
    # parse_email leaves here a field it cannot take: a single-use one given several times,
    # one whose bytes do not decode, or one the specification does not define.
    field = _field_name(key)
    if key.lower() not in _EMAIL_TO_RAW:
        return f"Invalid core metadata field {field}: not a field of the core metadata"
    if len(values) > 1:
        return f"Invalid {field}: the field may appear once, it appears {len(values)} times"
    return f"Invalid {field}: its value cannot be read"


def _problems(group: BaseExceptionGroup[Exception]) -> list[str]:
    found: list[str] = []
    for e in group.exceptions:
        if isinstance(e, BaseExceptionGroup):
            found += _problems(e)
        elif isinstance(e, InvalidMetadata):
            found.append(f"Invalid {_field_name(e.field)}: {e}")
        else:
            found.append(str(e))
    return found


def _refuse(problems: list[str], dist: DistFilename) -> None:
    if problems:
        listed = _shown("; ".join(sorted(set(problems))))
        raise InvalidUpload(f"{listed} (core metadata of {dist.filename!r}).")


# License-File is a field of Metadata-Version 2.4 (PEP 639), but setuptools wrote it under
# 2.1 for years, until 2025 (pypa/setuptools#4759), so six, python-dateutil, botocore and
# many more carry it, and PyPI serves them. PyPI validates the upload form, not the METADATA
# file (warehouse/forklift/legacy.py: ``metadata.parse(None, form_data=...)``), and twine
# (since 6.1.0, pypa/twine#1180) leaves License-File out of the form when the declared
# version is below 2.4. So PyPI never sees these values: it takes them, whatever they are,
# and records no license files for the release. tufpi reads the file, so it drops them the
# same way before its strict check. Every other field newer than the declared version twine
# does send, and PyPI refuses it ("license-expression introduced in metadata version 2.4,
# not 2.1"), as the strict check below does.
_LICENSE_FILE_SINCE = Version("2.4")


def _drop_early_license_files(raw: dict[str, Any], unparsed: dict[str, list[str]]) -> None:
    """Remove ``License-File`` from ``raw`` and ``unparsed`` (packaging before 24.2 leaves it
    there) when the declared Metadata-Version is below 2.4 or absent, as twine does; a
    Metadata-Version that is no version at all is left to the strict check to refuse."""
    declared = raw.get("metadata_version", "0")
    try:
        early = Version(str(declared)) < _LICENSE_FILE_SINCE
    except InvalidVersion:
        return
    if early:
        raw.pop("license_files", None)
        unparsed.pop("license-file", None)


def _check_dynamic(raw: dict[str, Any], dist: DistFilename) -> None:
    """Refuse ``Dynamic: Dynamic``, as PyPI does (its list of fields that may be dynamic,
    warehouse/forklift/metadata.py ``DYNAMIC_FIELDS``, is packaging's less Dynamic itself;
    packaging refuses Name, Version and Metadata-Version)."""
    _refuse(
        [
            f"Invalid Dynamic: Dynamic field {value!r} is not a valid dynamic field"
            for value in raw.get("dynamic") or []
            if str(value).lower() == "dynamic"
        ],
        dist,
    )


def _check_strict(raw: dict[str, Any], dist: DistFilename) -> None:
    """packaging's validation in strict mode (as PyPI's): a Metadata-Version it knows, and
    every field defined, valid (Requires-Dist, Requires-Python...) and not newer than it.

    Raises:
        InvalidUpload: naming each field at fault.
    """
    try:
        Metadata.from_raw(cast(RawMetadata, raw), validate=True)
    except ExceptionGroup as e:
        _refuse(_problems(e), dist)


# The fields that name other distributions by a PEP 508 requirement, which may carry a URL
# (``name @ https://...``). Warehouse refuses a URL in each ("Can't have direct dependency",
# warehouse/forklift/metadata.py); an installer follows one in Requires-Dist.
REQUIREMENT_FIELDS = ("requires_dist", "provides_dist", "obsoletes_dist")


def direct_references(
    raw: dict[str, Any], fields: Sequence[str] = REQUIREMENT_FIELDS
) -> list[tuple[str, str]]:
    """Each requirement in ``fields`` of ``raw`` (packaging's raw metadata) that names a URL,
    as ``(header name, requirement)``, in the order given (pure).

    A requirement that does not parse is listed if it holds ``@`` or ``://``: a more lenient
    reader (uv parses requirements its own way) might take a URL from it.
    """
    found: list[tuple[str, str]] = []
    for field in fields:
        values = raw.get(field) or []
        for value in values if isinstance(values, list) else [values]:
            try:
                url = Requirement(str(value)).url
            except InvalidRequirement:
                url = str(value) if "@" in str(value) or "://" in str(value) else None
            if url is not None:
                found.append((_field_name(field), str(value)))
    return found


def _check_no_direct_references(raw: dict[str, Any], dist: DistFilename) -> None:
    """Refuse a requirement on a URL, as PyPI does: pip and uv would fetch it from that URL,
    outside the index and unverified by its signed metadata.

    Raises:
        InvalidUpload: naming each such requirement.
    """
    _refuse(
        [
            f"Invalid {field}: Can't have direct dependency: {value!r} (it would be "
            "installed from that URL, not from the index)"
            for field, value in direct_references(raw)
        ],
        dist,
    )


def parse(data: bytes, dist: DistFilename) -> dict[str, Any]:
    """Parse core metadata strictly and check it describes the same project and version.

    Returns packaging's raw metadata dict (JSON-serialisable), without ``license_files``
    when the declared Metadata-Version is below 2.4 (setuptools wrote License-File there for
    years; PyPI accepts it and records none: see ``_LICENSE_FILE_SINCE``).

    Raises:
        InvalidUpload: unparseable or holding a NUL byte; an unknown Metadata-Version; a
            field undefined, repeated, invalid (Requires-Dist, Requires-Python...) or too
            new for its Metadata-Version (License-File excepted, as above), naming it; a
            requirement on a URL (Requires-Dist, Provides-Dist, Obsoletes-Dist:
            ``name @ https://...``), naming it; or another project or version.
    """
    if b"\x00" in data:
        # No header or description has a use for NUL; PostgreSQL text cannot store it.
        raise InvalidUpload(f"Invalid core metadata in {dist.filename!r}: contains a NUL byte.")
    try:
        raw, unparsed = parse_email(data)
    except ValueError as e:
        raise InvalidUpload(f"Invalid core metadata in {dist.filename!r}: {e}") from e
    fields = dict(raw)
    _drop_early_license_files(fields, unparsed)
    # What packaging could not take (a repeated single-use field, an undefined field)
    # first: a repeated Name or Version is missing from ``raw``.
    _refuse([_unparsed_problem(k, v) for k, v in unparsed.items()], dist)
    _check_identity(fields, dist)
    _check_requires_python(fields, dist)
    _check_strict(fields, dist)
    _check_dynamic(fields, dist)
    _check_no_direct_references(fields, dist)
    return fields
