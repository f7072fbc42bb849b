"""The bounds of archive reading (tufpi.index.archive), on hostile archives built here.

Each test shows what a naive reader (tarfile / zipfile as the index used them before) would
have spent on the archive, beside tufpi refusing it with the bound named.
"""

from __future__ import annotations

import itertools
import struct
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from tufpi.index.archive import Bounds, declared_zip_entries, read_core_metadata
from tufpi.index.errors import ArchiveTooCostly, InvalidUpload
from tufpi.index.names import DistFilename, parse_dist_filename

MiB = 1024 * 1024
SDIST = "demo_pkg-1.0.tar.gz"
SDIST_ZIP = "demo_pkg-1.0.zip"
WHEEL = "demo_pkg-1.0-py3-none-any.whl"
METADATA = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n"


def dist(name: str) -> DistFilename:
    return parse_dist_filename(name)


def tar_header(name: str, size: int = 0) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)


def write_gzip(path: Path, chunks: itertools.chain[bytes] | list[bytes]) -> Path:
    """A gzip file of ``chunks``, compressed as they come (no chunk list held in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())
    return path


def many_empty_members(path: Path, count: int) -> Path:
    """A tar.gz of ``count`` empty members (one repeated header: it compresses to nothing),
    then PKG-INFO: a reader must walk them all to know PKG-INFO is the only one."""
    block = tar_header("demo_pkg-1.0/x") * 1000
    chunks = itertools.chain(
        itertools.repeat(block, count // 1000),
        [tar_header("demo_pkg-1.0/PKG-INFO", len(METADATA)), METADATA.ljust(512, b"\0")],
        [b"\0" * 1024],
    )
    return write_gzip(path, chunks)


def zeros_member(path: Path, size: int) -> Path:
    """A tar.gz whose one member is ``size`` bytes of zeros, before PKG-INFO."""
    zeros = b"\0" * MiB
    chunks = itertools.chain(
        [tar_header("demo_pkg-1.0/zeros", size)],
        itertools.repeat(zeros, size // MiB),
        [tar_header("demo_pkg-1.0/PKG-INFO", len(METADATA)), METADATA.ljust(512, b"\0")],
        [b"\0" * 1024],
    )
    return write_gzip(path, chunks)


def naive_walk(path: Path) -> int:
    """What the index did before: walk every member of the tar.gz; members seen."""
    with tarfile.open(path, "r:gz") as archive:
        return sum(1 for _ in archive)


def test_an_ordinary_sdist_is_read(tmp_path: Path) -> None:
    path = many_empty_members(tmp_path / SDIST, 1000)
    assert read_core_metadata(path, dist(SDIST), Bounds()) == METADATA


def test_a_million_empty_members_are_refused_at_the_member_bound(tmp_path: Path) -> None:
    # The archive: ~2 MiB compressed, a million members.
    path = many_empty_members(tmp_path / SDIST, 1_000_000)
    assert path.stat().st_size < 6 * MiB
    started = time.monotonic()
    with pytest.raises(ArchiveTooCostly, match="more than 200000 members") as refused:
        read_core_metadata(path, dist(SDIST), Bounds())
    # The default bound stops the walk a fifth of the way in (the naive walk took 40 s
    # and 450 MB in the measurement; not repeated here).
    assert time.monotonic() - started < 20
    assert "limit: 200000 archive members" in refused.value.message


def test_the_member_bound_counts_every_member(tmp_path: Path) -> None:
    path = many_empty_members(tmp_path / SDIST, 2000)
    assert naive_walk(path) == 2001
    assert read_core_metadata(path, dist(SDIST), Bounds(members=2001)) == METADATA
    with pytest.raises(ArchiveTooCostly, match="limit: 2000 archive members"):
        read_core_metadata(path, dist(SDIST), Bounds(members=2000))


def test_a_gzip_of_zeros_is_refused_at_the_inflated_bound(tmp_path: Path) -> None:
    # Skipping a member still inflates it: the whole gzip stream counts.
    path = zeros_member(tmp_path / SDIST, 64 * MiB)
    assert naive_walk(path) == 2  # the naive reader inflated all 64 MiB to get here
    limit = 16 * MiB
    with pytest.raises(ArchiveTooCostly, match=f"limit: {limit} inflated bytes"):
        read_core_metadata(path, dist(SDIST), Bounds(inflated_bytes=limit, ratio=10**6))
    assert read_core_metadata(path, dist(SDIST), Bounds(ratio=10**6)) == METADATA


def test_a_gzip_of_zeros_is_refused_at_the_ratio_bound(tmp_path: Path) -> None:
    path = zeros_member(tmp_path / SDIST, 128 * MiB)
    ratio = (128 * MiB) // path.stat().st_size
    assert ratio > 100  # zeros deflate about a thousandfold
    with pytest.raises(ArchiveTooCostly, match="limit: compression ratio 100") as refused:
        read_core_metadata(path, dist(SDIST), Bounds())
    assert f"more than 100 times its {path.stat().st_size} bytes" in refused.value.message
    # Below the floor any ratio is allowed: a small file of zeros harms nobody.
    (tmp_path / "small").mkdir()
    small = zeros_member(tmp_path / "small" / SDIST, 8 * MiB)
    assert read_core_metadata(small, dist(SDIST), Bounds()) == METADATA


def test_reading_is_refused_past_the_time_bound(tmp_path: Path) -> None:
    path = many_empty_members(tmp_path / SDIST, 5000)
    ticks = itertools.count()
    with pytest.raises(ArchiveTooCostly, match="limit: 100 s of inspection"):
        read_core_metadata(path, dist(SDIST), Bounds(seconds=100), clock=lambda: next(ticks))
    assert next(ticks) < 200  # refused as soon as the clock passed the deadline


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def ordinary_wheel(path: Path, extra: list[tuple[str, bytes]] | None = None) -> Path:
    return write_zip(path, [("demo_pkg-1.0.dist-info/METADATA", METADATA), *(extra or [])])


_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")


def split_zip(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A zip's bytes as (local part, central directory entries, end record)."""
    at = data.rfind(b"PK\x05\x06")
    fields = _EOCD.unpack_from(data, at)
    size, offset = fields[5], fields[6]
    central = data[offset : offset + size]
    entries = []
    position = 0
    while position < len(central):
        header = _CENTRAL.unpack_from(central, position)
        length = _CENTRAL.size + header[10] + header[11] + header[12]
        entries.append(central[position : position + length])
        position += length
    return data[:offset], entries, data[at:]


def join_zip(local: bytes, entries: list[bytes], declared: int | None = None) -> bytes:
    """A zip of ``local`` and ``entries``, its end record declaring ``declared`` entries
    (their real number unless given)."""
    central = b"".join(entries)
    count = len(entries) if declared is None else declared
    end = _EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    return local + central + end


def with_file_size(entry: bytes, size: int) -> bytes:
    """A central directory entry declaring another uncompressed size."""
    return entry[:24] + struct.pack("<L", size) + entry[28:]


def test_an_ordinary_wheel_is_read(tmp_path: Path) -> None:
    path = ordinary_wheel(tmp_path / WHEEL)
    assert declared_zip_entries(path) == 1
    assert read_core_metadata(path, dist(WHEEL), Bounds()) == METADATA


def test_a_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    members = [(f"demo_pkg/m{i}.py", b"") for i in range(300)]
    path = ordinary_wheel(tmp_path / WHEEL, members)
    assert read_core_metadata(path, dist(WHEEL), Bounds(members=301)) == METADATA
    with pytest.raises(ArchiveTooCostly, match="limit: 300 archive members"):
        read_core_metadata(path, dist(WHEEL), Bounds(members=300))


def test_a_zip_declaring_too_many_entries_is_refused_before_parsing(tmp_path: Path) -> None:
    local, entries, _end = split_zip(ordinary_wheel(tmp_path / "w.zip").read_bytes())
    path = tmp_path / WHEEL
    path.write_bytes(join_zip(local, entries, declared=60_000))
    assert declared_zip_entries(path) == 60_000
    with pytest.raises(ArchiveTooCostly, match="limit: 1000 archive members"):
        read_core_metadata(path, dist(WHEEL), Bounds(members=1000))


def test_a_zip_lying_about_its_entry_count_is_still_counted(tmp_path: Path) -> None:
    members = [(f"demo_pkg/m{i}.py", b"") for i in range(50)]
    local, entries, _end = split_zip(ordinary_wheel(tmp_path / "w.zip", members).read_bytes())
    path = tmp_path / WHEEL
    path.write_bytes(join_zip(local, entries, declared=1))
    assert declared_zip_entries(path) == 1
    assert len(zipfile.ZipFile(path).infolist()) == 51  # zipfile walks the directory
    with pytest.raises(ArchiveTooCostly, match="limit: 10 archive members"):
        read_core_metadata(path, dist(WHEEL), Bounds(members=10))


def test_a_zip_bomb_is_refused_on_its_declared_sizes(tmp_path: Path) -> None:
    # A member of 256 MiB of zeros, which pip would inflate on install; the index reads
    # only METADATA, so before, it accepted the wheel.
    path = tmp_path / WHEEL
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo_pkg-1.0.dist-info/METADATA", METADATA)
        with archive.open("demo_pkg/zeros.bin", "w") as out:
            for _ in range(256):
                out.write(b"\0" * MiB)
    assert path.stat().st_size < 2 * MiB
    with pytest.raises(ArchiveTooCostly, match="limit: compression ratio 100"):
        read_core_metadata(path, dist(WHEEL), Bounds())
    with pytest.raises(ArchiveTooCostly, match=f"limit: {128 * MiB} inflated bytes"):
        read_core_metadata(path, dist(WHEEL), Bounds(inflated_bytes=128 * MiB, ratio=10**6))


def test_overlapping_zip_entries_are_refused_on_their_declared_sizes(tmp_path: Path) -> None:
    # Fifield's non-recursive zip bomb: many central directory entries sharing one member's
    # data, so that each extraction inflates it again.
    one = write_zip(
        tmp_path / "one.zip",
        [("demo_pkg-1.0.dist-info/METADATA", METADATA), ("demo_pkg/x", b"\0" * MiB)],
    )
    local, (metadata_entry, blob_entry), _end = split_zip(one.read_bytes())
    path = tmp_path / WHEEL
    path.write_bytes(join_zip(local, [metadata_entry, *[blob_entry] * 2000]))
    assert path.stat().st_size < 2 * MiB
    with pytest.raises(ArchiveTooCostly, match=f"limit: {1024 * MiB} inflated bytes"):
        read_core_metadata(path, dist(WHEEL), Bounds(ratio=10**6))


def test_a_member_larger_than_it_declares_is_not_read_past_it(tmp_path: Path) -> None:
    # Declared sizes can lie: METADATA says 10 bytes and holds more. zipfile stops at the
    # declared size, and the CRC check then fails.
    local, (entry,), _end = split_zip(ordinary_wheel(tmp_path / "w.zip").read_bytes())
    path = tmp_path / WHEEL
    path.write_bytes(join_zip(local, [with_file_size(entry, 10)]))
    with pytest.raises(InvalidUpload, match="Invalid distribution file"):
        read_core_metadata(path, dist(WHEEL), Bounds())


def test_a_zip_sdist_is_bounded_too(tmp_path: Path) -> None:
    members = [("demo_pkg-1.0/PKG-INFO", METADATA)] + [
        (f"demo_pkg-1.0/{i}", b"") for i in range(20)
    ]
    path = write_zip(tmp_path / SDIST_ZIP, members)
    assert read_core_metadata(path, dist(SDIST_ZIP), Bounds()) == METADATA
    with pytest.raises(ArchiveTooCostly, match="limit: 20 archive members"):
        read_core_metadata(path, dist(SDIST_ZIP), Bounds(members=20))
