"""Read the core metadata file out of a wheel or sdist, within hard bounds.

An upload is an archive built by whoever holds a token, so reading it must cost a bounded
amount whatever it holds: at most ``Bounds.members`` members, ``Bounds.inflated_bytes``
bytes inflated (for a tar.gz, the whole gzip stream up to the end of the tar archive, since
walking the members inflates it), an inflated/compressed ratio of ``Bounds.ratio`` once past
``Bounds.ratio_floor`` bytes, and ``Bounds.seconds`` of wall time. A zip is judged first by what its
central directory declares (count and sizes), then by what reading it actually inflates
(declared sizes can lie). Past a bound, ``ArchiveTooCostly`` names the bound and its value.

Pure of HTTP and the database: a path in, bytes out; the clock comes in as an argument.
``tufpi.index.inspector`` runs this in worker processes of its own.
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, Protocol, cast

from tufpi.index.errors import ArchiveTooCostly, InvalidUpload
from tufpi.index.names import DistFilename

MiB = 1024 * 1024
# Core metadata is a few KiB; anything this large is an attack or a mistake.
MAX_METADATA_BYTES = 4 * MiB
# What a tar stream is read by: tarfile's record size (20 blocks of 512 bytes).
_TAR_READ = tarfile.RECORDSIZE


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The most that reading one archive may cost.

    Attributes:
        members: entries in the archive (files, directories, links).
        inflated_bytes: bytes inflated in all (declared, and actually read).
        ratio: inflated bytes per byte of the archive, once past ``ratio_floor``.
        seconds: wall time of the whole reading.
        ratio_floor: what any archive may inflate whatever its ratio (a small file of
            zeros is harmless).
    """

    members: int = 200_000
    inflated_bytes: int = 1024 * MiB
    ratio: int = 100
    seconds: float = 20.0
    ratio_floor: int = 64 * MiB


class Budget:
    """What one reading has spent; each charge raises ``ArchiveTooCostly`` past a bound."""

    def __init__(
        self, bounds: Bounds, archive_bytes: int, what: str, clock: Callable[[], float]
    ) -> None:
        self.bounds = bounds
        self.archive_bytes = max(archive_bytes, 1)
        self.what = what
        self.clock = clock
        self.deadline = clock() + bounds.seconds
        self.members = 0
        self.inflated = 0

    def _refuse(self, why: str, bound: str) -> ArchiveTooCostly:
        return ArchiveTooCostly(f"Refused {self.what}: {why} (limit: {bound}).")

    def check_members(self, count: int) -> None:
        """Refuse an archive holding (or declaring) more than the bound's members."""
        if count > self.bounds.members:
            raise self._refuse(
                f"it has more than {self.bounds.members} members",
                f"{self.bounds.members} archive members",
            )

    def add_member(self) -> None:
        """Count one more member read, and check the clock."""
        self.members += 1
        self.check_members(self.members)
        self.check_time()

    def check_inflated(self, total: int) -> None:
        """Refuse ``total`` inflated bytes past the size or ratio bound."""
        limit = self.bounds.inflated_bytes
        if total > limit:
            raise self._refuse(f"it inflates to more than {limit} bytes", f"{limit} inflated bytes")
        ratio = self.bounds.ratio
        if total > self.bounds.ratio_floor and total > ratio * self.archive_bytes:
            raise self._refuse(
                f"it inflates to more than {ratio} times its {self.archive_bytes} bytes",
                f"compression ratio {ratio}",
            )

    def add_inflated(self, count: int) -> None:
        """Count ``count`` more bytes inflated, and check the clock."""
        self.inflated += count
        self.check_inflated(self.inflated)
        self.check_time()

    def check_time(self) -> None:
        """Refuse once the reading has lasted longer than the bound."""
        if self.clock() > self.deadline:
            raise self._refuse(
                f"reading it took more than {self.bounds.seconds:g} s",
                f"{self.bounds.seconds:g} s of inspection",
            )


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Metered:
    """A binary stream whose every read is charged to a budget (tarfile reads through it)."""

    def __init__(self, stream: _Readable, budget: Budget) -> None:
        self.stream = stream
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        # Never read unbounded: one call inflates at most a tar record's worth past the bound.
        data = self.stream.read(size if 0 <= size <= _TAR_READ else _TAR_READ)
        self.budget.add_inflated(len(data))
        return data


def _read_limited(stream: IO[bytes], what: str, budget: Budget) -> bytes:
    """At most ``MAX_METADATA_BYTES`` of ``stream``, in reads of bounded size (a zip member
    inflates whatever its declared size says), each charged to ``budget``."""
    data = bytearray()
    while len(data) <= MAX_METADATA_BYTES and (chunk := stream.read(_TAR_READ)):
        budget.add_inflated(len(chunk))
        data += chunk
    if len(data) > MAX_METADATA_BYTES:
        raise InvalidUpload(f"{what} is larger than {MAX_METADATA_BYTES} bytes.")
    return bytes(data)


def _is_top_pkg_info(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _is_wheel_metadata(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA"


# The end of central directory record (APPNOTE.TXT 4.3.16) and the zip64 locator (4.3.15)
# and record (4.3.14): where a zip declares how many entries it holds.
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_EOCD_SEARCH = _EOCD.size + 0xFFFF  # the record, and a comment of at most 64 KiB


def declared_zip_entries(path: Path) -> int | None:
    """How many entries the zip at ``path`` declares in its end records, read before
    zipfile parses the central directory (which it walks whatever the count says); None
    when no end record is found (zipfile then refuses the file)."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        start = max(0, size - _EOCD_SEARCH)
        f.seek(start)
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return None
        entries: int = _EOCD.unpack_from(tail, at)[4]
        locator_at = start + at - _ZIP64_LOCATOR.size
        if entries != 0xFFFF or locator_at < 0:
            return entries
        f.seek(locator_at)
        signature, _disk, record_at, _disks = _ZIP64_LOCATOR.unpack(f.read(_ZIP64_LOCATOR.size))
        if signature != b"PK\x06\x07":
            return entries
        f.seek(record_at)
        record = f.read(_ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            return entries
        total: int = _ZIP64_EOCD.unpack(record)[7]
        return total


def _open_zip(path: Path, budget: Budget) -> zipfile.ZipFile:
    """The zip, once what it declares is within the bounds: its entry count before zipfile
    parses the central directory, then the count parsed and the sizes it declares."""
    declared = declared_zip_entries(path)
    if declared is not None:
        budget.check_members(declared)
    archive = zipfile.ZipFile(path)
    try:
        infos = archive.infolist()
        budget.check_members(len(infos))
        budget.check_inflated(sum(info.file_size for info in infos))
        budget.check_time()
    except BaseException:
        archive.close()
        raise
    return archive


def _read_zip_member(archive: zipfile.ZipFile, name: str, what: str, budget: Budget) -> bytes:
    info = archive.getinfo(name)
    if info.flag_bits & 0x1:  # zipfile would raise RuntimeError: it needs a password
        raise InvalidUpload(f"Invalid distribution: its {what} is encrypted.")
    with archive.open(info) as member:
        return _read_limited(member, what, budget)


def _from_zip(path: Path, budget: Budget, wheel: bool) -> bytes:
    with _open_zip(path, budget) as archive:
        if wheel:
            candidates = [n for n in archive.namelist() if _is_wheel_metadata(n)]
            if len(candidates) != 1:
                raise InvalidUpload("Invalid wheel: expected exactly one .dist-info/METADATA file.")
            return _read_zip_member(archive, candidates[0], "METADATA", budget)
        candidates = [n for n in archive.namelist() if _is_top_pkg_info(n)]
        if len(candidates) != 1:
            raise InvalidUpload("Invalid sdist: expected exactly one top-level PKG-INFO file.")
        return _read_zip_member(archive, candidates[0], "PKG-INFO", budget)


def _from_sdist_tar(path: Path, budget: Budget) -> bytes:
    # The gzip stream is inflated here, through a meter, and tarfile reads it as a plain
    # stream: every byte inflated (skipped members' too) is charged to the budget.
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as inflated:
        stream = cast(IO[bytes], _Metered(inflated, budget))  # read is all tarfile calls
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            # Every member is looked at: with two PKG-INFO files, which one a reader sees
            # depends on the reader (we would take the first, extraction keeps the last).
            found = 0
            data: bytes | None = None
            while (member := archive.next()) is not None:
                budget.add_member()
                if not _is_top_pkg_info(member.name):
                    continue
                found += 1
                if found == 1 and member.isfile():
                    data = _read_tar_member(archive, member, budget)
    if found > 1:
        raise InvalidUpload("Invalid sdist: expected exactly one top-level PKG-INFO file.")
    if data is None:
        raise InvalidUpload("Invalid sdist: no top-level PKG-INFO file.")
    return data


def _read_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, budget: Budget) -> bytes:
    stream = archive.extractfile(member)
    if stream is None:
        raise InvalidUpload("Invalid sdist: no top-level PKG-INFO file.")
    with stream:
        return _read_limited(stream, "PKG-INFO", budget)


def read_core_metadata(
    path: Path,
    dist: DistFilename,
    bounds: Bounds,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The raw core metadata bytes (``METADATA`` or ``PKG-INFO``) of the distribution at
    ``path``, read within ``bounds``.

    Raises:
        ArchiveTooCostly: reading it would pass one of ``bounds`` (the message names it).
        InvalidUpload: the archive is corrupt or holds no (single) metadata file; the
            archive reader's error, if any, is the cause.
    """
    budget = Budget(bounds, path.stat().st_size, repr(dist.filename), clock)
    try:
        if dist.packagetype == "bdist_wheel":
            return _from_zip(path, budget, wheel=True)
        if dist.filename.endswith(".zip"):
            return _from_zip(path, budget, wheel=False)
        return _from_sdist_tar(path, budget)
    # NotImplementedError: zipfile's answer to an unknown compression method or flag bits.
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
    ) as e:
        raise InvalidUpload(f"Invalid distribution file {dist.filename!r}: {e}") from e
