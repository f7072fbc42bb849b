"""The pure steps of an upload: read the form, hash the content, check what the client claims.

Each step has a name and raises ``InvalidUpload`` with a message twine shows; nothing here
touches the database or storage (see ``tufpi.index.service`` for that).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import hmac
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from packaging.version import Version

from tufpi.index import core_metadata
from tufpi.index.errors import InsufficientStorage, InvalidUpload, UploadTooLarge
from tufpi.index.names import (
    PACKAGETYPES,
    DistFilename,
    check_filename_matches,
    check_project_name,
    parse_dist_filename,
    parse_version,
)

_CHUNK = 1024 * 1024
# The fields tufpi acts on: each may be sent once (with two, which one counts is a guess).
SINGLE_FIELDS = (
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "pyversion",
    "metadata_version",
    "sha256_digest",
    "blake2_256_digest",
    "md5_digest",
    "description",
)
# The width of files.python_version (tufpi.db.models).
MAX_PYVERSION = 50


@dataclasses.dataclass(frozen=True)
class UploadForm:
    """The fields of a legacy upload request that tufpi acts on."""

    name: str
    version: Version
    filetype: str
    pyversion: str
    metadata_version: str
    sha256_digest: str | None
    blake2_256_digest: str | None
    md5_digest: str | None
    description: str | None


def _field(fields: Mapping[str, str], key: str) -> str:
    value = fields.get(key, "").strip()
    if not value:
        raise InvalidUpload(f"Missing required field {key!r}.")
    return value


def _optional(fields: Mapping[str, str], key: str) -> str | None:
    value = fields.get(key, "").strip()
    return value or None


def check_fields(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The form's fields as a dict, once each field tufpi acts on is known to be unambiguous.

    Raises:
        InvalidUpload: a field tufpi acts on is sent twice, or a value holds a NUL byte.
    """
    counts = Counter(key for key, _ in items)
    for key in SINGLE_FIELDS:
        if counts[key] > 1:
            raise InvalidUpload(f"Field {key!r} is given more than once.")
    for key, value in items:
        if "\x00" in value:
            # Nothing legitimate holds one, and PostgreSQL text cannot store it.
            raise InvalidUpload(f"Field {key!r} contains a NUL byte.")
    return dict(items)


def _check_action(fields: Mapping[str, str]) -> None:
    action = fields.get(":action", "")
    if action != "file_upload":
        raise InvalidUpload(f"Unsupported :action {action!r}; only 'file_upload' is supported.")
    if fields.get("protocol_version", "1") != "1":
        raise InvalidUpload("Unknown protocol_version; only 1 is supported.")


def _filetype(fields: Mapping[str, str]) -> str:
    filetype = _field(fields, "filetype")
    if filetype not in PACKAGETYPES:
        raise InvalidUpload(
            f"Unknown filetype {filetype!r}: only 'sdist' and 'bdist_wheel' are accepted."
        )
    return filetype


def _pyversion(fields: Mapping[str, str], filetype: str) -> str:
    pyversion = _optional(fields, "pyversion") or ("source" if filetype == "sdist" else "")
    if len(pyversion) > MAX_PYVERSION:
        raise InvalidUpload(f"The pyversion is longer than {MAX_PYVERSION} characters.")
    return pyversion


def parse_form(items: Sequence[tuple[str, str]]) -> UploadForm:
    """Validate the non-file fields of ``POST /legacy/``, in the order the client sent them.

    Raises:
        InvalidUpload: a repeated field or a NUL byte, unknown action or protocol, a missing
            field, a bad name, version, type or pyversion.
    """
    fields = check_fields(items)
    _check_action(fields)
    name = _field(fields, "name")
    check_project_name(name)
    version = parse_version(_field(fields, "version"))
    filetype = _filetype(fields)
    return UploadForm(
        name=name,
        version=version,
        filetype=filetype,
        pyversion=_pyversion(fields, filetype),
        metadata_version=_optional(fields, "metadata_version") or "",
        sha256_digest=_optional(fields, "sha256_digest"),
        blake2_256_digest=_optional(fields, "blake2_256_digest"),
        md5_digest=_optional(fields, "md5_digest"),
        description=fields.get("description"),
    )


def check_dist(form: UploadForm, filename: str) -> DistFilename:
    """The filename must be safe and agree with the form's name, version and filetype."""
    dist = parse_dist_filename(filename)
    check_filename_matches(dist, form.name, form.version)
    if dist.packagetype != form.filetype:
        raise InvalidUpload(
            f"Filename {filename!r} is a {dist.packagetype}, but filetype says {form.filetype}."
        )
    return dist


@dataclasses.dataclass(frozen=True)
class Digests:
    size: int
    sha256: str
    sha512: str
    blake2_256: str
    md5: str


@dataclasses.dataclass
class StagedFile:
    """The uploaded content copied to a private temporary file, hashed on the way."""

    path: Path
    digests: Digests

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def stage(source: BinaryIO, limit: int, directory: Path | None = None) -> StagedFile:
    """Copy ``source`` to a temp file in one pass, hashing it; refuse more than ``limit`` bytes.

    ``directory``: where the temp file goes (the storage's ``scratch_dir``, so that what a
    killed process leaves is swept); the system's temp directory if None.

    Raises:
        UploadTooLarge: the content exceeds ``limit``.
        InvalidUpload: the content is empty.
        InsufficientStorage: no space left for the temp file.
    """
    hashers = new_hashers()
    size = 0
    fd, name = tempfile.mkstemp(prefix="tufpi-upload-", dir=directory)
    path = Path(name)
    try:
        with open(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"File too large: the limit is {limit} bytes.")
                for h in hashers.values():
                    h.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidUpload("The uploaded file is empty.")
    except BaseException as e:
        path.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("The index's disk is full; nothing was stored.") from e
        raise
    return StagedFile(path, digests_of(hashers, size))


def new_hashers() -> dict[str, Any]:
    """One hasher per digest a File row keeps (the keys of ``Digests``); ``digests_of``
    reads them."""
    return {
        "sha256": hashlib.sha256(),
        "sha512": hashlib.sha512(),
        "blake2_256": hashlib.blake2b(digest_size=32),
        "md5": hashlib.md5(usedforsecurity=False),
    }


def digests_of(hashers: dict[str, Any], size: int) -> Digests:
    """The digests ``hashers`` (from ``new_hashers``) hold, of ``size`` bytes."""
    return Digests(size=size, **{k: h.hexdigest() for k, h in hashers.items()})


def hash_file(path: Path) -> Digests:
    """The size and every digest the index records of the file at ``path``, in one read.

    Raises:
        OSError: the file cannot be read.
    """
    hashers = new_hashers()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            for h in hashers.values():
                h.update(chunk)
    return digests_of(hashers, size)


def check_digests(form: UploadForm, digests: Digests) -> None:
    """Every digest the client sent must match the content received."""
    claimed = {
        "sha256_digest": (form.sha256_digest, digests.sha256),
        "blake2_256_digest": (form.blake2_256_digest, digests.blake2_256),
        "md5_digest": (form.md5_digest, digests.md5),
    }
    for field, (given, actual) in claimed.items():
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        if given is not None and not hmac.compare_digest(given.lower().encode(), actual.encode()):
            raise InvalidUpload(f"The {field} does not match the uploaded content.")


@dataclasses.dataclass(frozen=True)
class InspectedDist:
    """A staged distribution whose metadata has been read and checked."""

    dist: DistFilename
    staged: StagedFile
    metadata: bytes
    fields: dict[str, Any]

    @property
    def metadata_sha256(self) -> str:
        return hashlib.sha256(self.metadata).hexdigest()

    @property
    def requires_python(self) -> str | None:
        value = self.fields.get("requires_python")
        return str(value) if value else None


def inspect(
    form: UploadForm,
    dist: DistFilename,
    staged: StagedFile,
    extract: Callable[[Path, DistFilename], bytes] = core_metadata.extract,
) -> InspectedDist:
    """Check digests and read the core metadata of a staged distribution with ``extract``
    (by default in this thread, within the default bounds; the server passes its
    ``Inspector``'s, which reads in worker processes)."""
    check_digests(form, staged.digests)
    data = extract(staged.path, dist)
    fields = core_metadata.parse(data, dist)
    return InspectedDist(dist, staged, data, fields)


def copy_to(staged: StagedFile, out: BinaryIO) -> None:
    """Write the staged content to ``out`` (used by storage backends that want a stream)."""
    with staged.path.open("rb") as src:
        shutil.copyfileobj(src, out, _CHUNK)
