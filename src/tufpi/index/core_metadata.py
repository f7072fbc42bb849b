"""Read the core metadata (``METADATA`` / ``PKG-INFO``) out of a wheel or sdist.

The bytes are served as the PEP 658 ``.metadata`` file; the parsed fields feed the JSON API.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name, canonicalize_version

from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename

# Core metadata is a few KiB; anything this large is an attack or a mistake.
MAX_METADATA_BYTES = 4 * 1024 * 1024


def _read_limited(stream: Any, what: str) -> bytes:
    data: bytes = stream.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise InvalidUpload(f"{what} is larger than {MAX_METADATA_BYTES} bytes.")
    return data


def _from_wheel(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        candidates = [
            n
            for n in archive.namelist()
            if len(PurePosixPath(n).parts) == 2
            and PurePosixPath(n).parts[0].endswith(".dist-info")
            and PurePosixPath(n).name == "METADATA"
        ]
        if len(candidates) != 1:
            raise InvalidUpload("Invalid wheel: expected exactly one .dist-info/METADATA file.")
        with archive.open(candidates[0]) as member:
            return _read_limited(member, "METADATA")


def _from_sdist_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        candidates = [n for n in archive.namelist() if _is_top_pkg_info(n)]
        if len(candidates) != 1:
            raise InvalidUpload("Invalid sdist: expected exactly one top-level PKG-INFO file.")
        with archive.open(candidates[0]) as member:
            return _read_limited(member, "PKG-INFO")


def _is_top_pkg_info(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _from_sdist_tar(path: Path) -> bytes:
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if _is_top_pkg_info(member.name):
                if not member.isfile():
                    break
                stream = archive.extractfile(member)
                if stream is None:
                    break
                with stream:
                    return _read_limited(stream, "PKG-INFO")
    raise InvalidUpload("Invalid sdist: no top-level PKG-INFO file.")


def extract(path: Path, dist: DistFilename) -> bytes:
    """The raw core metadata bytes of the distribution at ``path``.

    Raises:
        InvalidUpload: the archive is corrupt or holds no (single) metadata file.
    """
    try:
        if dist.packagetype == "bdist_wheel":
            return _from_wheel(path)
        if dist.filename.endswith(".zip"):
            return _from_sdist_zip(path)
        return _from_sdist_tar(path)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise InvalidUpload(f"Invalid distribution file {dist.filename!r}: {e}") from e


def parse(data: bytes, dist: DistFilename) -> dict[str, Any]:
    """Parse core metadata and check it describes the same project and version.

    Returns packaging's raw metadata dict (JSON-serialisable).

    Raises:
        InvalidUpload: unparseable, or naming another project or version.
    """
    try:
        raw, _unparsed = parse_email(data)
    except ValueError as e:
        raise InvalidUpload(f"Invalid core metadata in {dist.filename!r}: {e}") from e
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
            f"Core metadata in {dist.filename!r} is for version {version}, not {dist.version}."
        )
    return dict(raw)
