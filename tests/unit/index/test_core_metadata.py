"""Reading and checking core metadata from wheels and sdists (tufpi.index.core_metadata)."""

from __future__ import annotations

import io
import re
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.metadata import Metadata, parse_email

from tests.support.setuptools_metadata import (
    BOTOCORE_1_44,
    BOTOCORE_WHEEL,
    DATEUTIL_2_9,
    DATEUTIL_WHEEL,
    SIX_1_17,
    SIX_WHEEL,
    with_header,
)
from tufpi.index import core_metadata
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename, parse_dist_filename

WHEEL = "demo_pkg-1.0-py3-none-any.whl"
SDIST = "demo_pkg-1.0.tar.gz"
SDIST_ZIP = "demo_pkg-1.0.zip"


def metadata(name: str = "demo-pkg", version: str = "1.0", extra: str = "") -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: a demo\nRequires-Python: >=3.8\n{extra}\nLong description.\n"
    ).encode()


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def wheel(tmp_path: Path, members: list[tuple[str, bytes]]) -> tuple[Path, DistFilename]:
    return write_zip(tmp_path / WHEEL, members), parse_dist_filename(WHEEL)


def sdist(tmp_path: Path, members: list[tuple[str, bytes]]) -> tuple[Path, DistFilename]:
    return write_tar(tmp_path / SDIST, members), parse_dist_filename(SDIST)


def test_wheel_metadata_is_returned_byte_for_byte(tmp_path: Path) -> None:
    data = metadata()
    path, dist = wheel(
        tmp_path,
        [
            ("demo_pkg/__init__.py", b""),
            ("demo_pkg-1.0.dist-info/METADATA", data),
            ("demo_pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
        ],
    )
    assert core_metadata.extract(path, dist) == data


def test_wheel_metadata_not_at_dist_info_top_is_ignored(tmp_path: Path) -> None:
    path, dist = wheel(
        tmp_path,
        [
            ("demo_pkg/METADATA", metadata(name="evil")),
            ("demo_pkg-1.0.dist-info/sub/METADATA", metadata(name="evil")),
            ("demo_pkg-1.0.dist-info/METADATA", metadata()),
        ],
    )
    assert core_metadata.extract(path, dist) == metadata()


def test_wheel_with_two_metadata_files_is_refused(tmp_path: Path) -> None:
    path, dist = wheel(
        tmp_path,
        [
            ("demo_pkg-1.0.dist-info/METADATA", metadata()),
            ("other-1.0.dist-info/METADATA", metadata(name="other")),
        ],
    )
    with pytest.raises(InvalidUpload, match="exactly one"):
        core_metadata.extract(path, dist)


def test_wheel_with_the_same_metadata_entry_twice_is_refused(tmp_path: Path) -> None:
    # A zip may hold two entries with one name; readers disagree on which one wins.
    path = tmp_path / WHEEL
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo_pkg-1.0.dist-info/METADATA", metadata())
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("demo_pkg-1.0.dist-info/METADATA", metadata(version="6.6"))
    with pytest.raises(InvalidUpload, match="exactly one"):
        core_metadata.extract(path, parse_dist_filename(WHEEL))


def test_wheel_without_metadata_is_refused(tmp_path: Path) -> None:
    path, dist = wheel(tmp_path, [("demo_pkg/__init__.py", b"")])
    with pytest.raises(InvalidUpload, match="exactly one"):
        core_metadata.extract(path, dist)


def test_oversized_metadata_is_refused(tmp_path: Path) -> None:
    big = metadata() + b"x" * core_metadata.MAX_METADATA_BYTES
    path, dist = wheel(tmp_path, [("demo_pkg-1.0.dist-info/METADATA", big)])
    with pytest.raises(InvalidUpload, match="larger than"):
        core_metadata.extract(path, dist)


def test_sdist_tar_gz_pkg_info(tmp_path: Path) -> None:
    data = metadata()
    path, dist = sdist(
        tmp_path,
        [
            ("demo_pkg-1.0/pyproject.toml", b"[project]\n"),
            ("demo_pkg-1.0/src/PKG-INFO", metadata(name="nested")),
            ("demo_pkg-1.0/PKG-INFO", data),
        ],
    )
    assert core_metadata.extract(path, dist) == data


def test_sdist_zip_pkg_info(tmp_path: Path) -> None:
    data = metadata()
    path = write_zip(tmp_path / SDIST_ZIP, [("demo_pkg-1.0/PKG-INFO", data)])
    assert core_metadata.extract(path, parse_dist_filename(SDIST_ZIP)) == data


def test_sdist_zip_with_two_pkg_info_files_is_refused(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / SDIST_ZIP,
        [("demo_pkg-1.0/PKG-INFO", metadata()), ("other-1.0/PKG-INFO", metadata(name="other"))],
    )
    with pytest.raises(InvalidUpload, match="exactly one"):
        core_metadata.extract(path, parse_dist_filename(SDIST_ZIP))


def test_sdist_tar_with_two_pkg_info_files_is_refused(tmp_path: Path) -> None:
    path, dist = sdist(
        tmp_path,
        [("demo_pkg-1.0/PKG-INFO", metadata()), ("demo_pkg-1.0/PKG-INFO", metadata("other"))],
    )
    with pytest.raises(InvalidUpload):
        core_metadata.extract(path, dist)


def test_sdist_without_top_level_pkg_info_is_refused(tmp_path: Path) -> None:
    path, dist = sdist(tmp_path, [("demo_pkg-1.0/src/PKG-INFO", metadata())])
    with pytest.raises(InvalidUpload, match="no top-level PKG-INFO"):
        core_metadata.extract(path, dist)


def test_sdist_pkg_info_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SDIST
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("demo_pkg-1.0/PKG-INFO")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    with pytest.raises(InvalidUpload, match="no top-level PKG-INFO"):
        core_metadata.extract(path, parse_dist_filename(SDIST))


@pytest.mark.parametrize("filename", [WHEEL, SDIST, SDIST_ZIP])
@pytest.mark.parametrize(
    "content",
    [b"", b"not an archive at all", b"PK\x03\x04" + b"\x00" * 40, b"\x1f\x8b\x08\x00garbage"],
    ids=["empty", "text", "zip-header", "gzip-header"],
)
def test_corrupt_archives_are_refused(tmp_path: Path, filename: str, content: bytes) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(InvalidUpload):
        core_metadata.extract(path, parse_dist_filename(filename))


def test_truncated_archives_are_refused(tmp_path: Path) -> None:
    for filename, write in ((WHEEL, write_zip), (SDIST, write_tar)):
        whole = write(
            tmp_path / "whole",
            [
                ("demo_pkg-1.0.dist-info/METADATA", metadata()),
                ("demo_pkg-1.0/PKG-INFO", metadata()),
            ],
        )
        path = tmp_path / filename
        path.write_bytes(whole.read_bytes()[:60])
        with pytest.raises(InvalidUpload):
            core_metadata.extract(path, parse_dist_filename(filename))


def _flip_every_byte(tmp_path: Path, filename: str, good: bytes) -> list[str]:
    """Corrupt ``good`` one byte at a time; return the exceptions that escaped as non-refusals."""
    path = tmp_path / filename
    escaped = []
    for offset in range(len(good)):
        corrupt = bytearray(good)
        corrupt[offset] ^= 0xFF
        path.write_bytes(bytes(corrupt))
        try:
            core_metadata.extract(path, parse_dist_filename(filename))
        except InvalidUpload:
            pass
        except Exception as e:  # the point: which ones escape
            escaped.append(f"offset {offset}: {type(e).__name__}: {e}")
    return escaped


# Repetitive content, so the compressed streams hold Huffman tables worth corrupting.
CORRUPTIBLE = [
    ("demo_pkg-1.0/README", b"hello world " * 2000),
    ("demo_pkg-1.0.dist-info/METADATA", metadata(extra="Keywords: " + "abc," * 300)),
    ("demo_pkg-1.0/PKG-INFO", metadata(extra="Keywords: " + "abc," * 300)),
]


def test_any_single_byte_corruption_of_an_sdist_is_refused_cleanly(tmp_path: Path) -> None:
    good = write_tar(tmp_path / "good", CORRUPTIBLE)
    assert _flip_every_byte(tmp_path, SDIST, good.read_bytes()) == []


def test_any_single_byte_corruption_of_a_wheel_is_refused_cleanly(tmp_path: Path) -> None:
    good = write_zip(tmp_path / "good", CORRUPTIBLE)
    assert _flip_every_byte(tmp_path, WHEEL, good.read_bytes()) == []


def _patch_zip_headers(data: bytes, local: tuple[int, int], central: tuple[int, int]) -> bytes:
    """Set a 16-bit field (offset, value) in every local and every central directory header."""
    patched = bytearray(data)
    for signature, (offset, value) in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = patched.find(signature)
        while at != -1:
            struct.pack_into("<H", patched, at + offset, value)
            at = patched.find(signature, at + 1)
    return bytes(patched)


@pytest.mark.parametrize(
    ("local", "central"),
    [((6, 1), (8, 1)), ((8, 99), (10, 99))],
    ids=["encrypted", "unknown-compression"],
)
def test_wheel_whose_metadata_cannot_be_read_is_refused(
    tmp_path: Path, local: tuple[int, int], central: tuple[int, int]
) -> None:
    good = write_zip(tmp_path / "good", [("demo_pkg-1.0.dist-info/METADATA", metadata())])
    path = tmp_path / WHEEL
    path.write_bytes(_patch_zip_headers(good.read_bytes(), local, central))
    with pytest.raises(InvalidUpload):
        core_metadata.extract(path, parse_dist_filename(WHEEL))


# -- parse ---------------------------------------------------------------------------------------


def test_parse_returns_packaging_raw_fields() -> None:
    fields = core_metadata.parse(
        metadata(extra="Requires-Dist: attrs>=20\nRequires-Dist: idna\n"),
        parse_dist_filename(WHEEL),
    )
    assert fields["name"] == "demo-pkg"
    assert fields["version"] == "1.0"
    assert fields["summary"] == "a demo"
    assert fields["requires_python"] == ">=3.8"
    assert fields["requires_dist"] == ["attrs>=20", "idna"]


@pytest.mark.parametrize("name", ["demo-pkg", "Demo_Pkg", "demo.pkg", "DEMO-PKG"])
def test_parse_accepts_any_spelling_of_the_same_project(name: str) -> None:
    assert core_metadata.parse(metadata(name=name), parse_dist_filename(WHEEL))["name"] == name


def test_parse_accepts_an_equivalent_version_spelling() -> None:
    fields = core_metadata.parse(metadata(version="1.0.0"), parse_dist_filename(WHEEL))
    assert fields["version"] == "1.0.0"


def test_parse_refuses_metadata_for_another_project() -> None:
    with pytest.raises(InvalidUpload, match="is for project 'other'"):
        core_metadata.parse(metadata(name="other"), parse_dist_filename(WHEEL))


def test_parse_refuses_metadata_for_another_version() -> None:
    with pytest.raises(InvalidUpload, match=r"is for version 2\.0"):
        core_metadata.parse(metadata(version="2.0"), parse_dist_filename(WHEEL))


@pytest.mark.parametrize(
    "data",
    [
        b"Metadata-Version: 2.1\nVersion: 1.0\n",
        b"Metadata-Version: 2.1\nName: demo-pkg\n",
        b"",
    ],
    ids=["no-name", "no-version", "empty"],
)
def test_parse_refuses_metadata_without_name_or_version(data: bytes) -> None:
    with pytest.raises(InvalidUpload, match="lacks Name or Version"):
        core_metadata.parse(data, parse_dist_filename(WHEEL))


def test_parse_refuses_an_undecodable_name_naming_the_field() -> None:
    # It used to be refused as missing; packaging's strict parse names the field.
    data = b"Metadata-Version: 2.1\nName: \xff\xfe\nVersion: 1.0\n"
    with pytest.raises(InvalidUpload, match="Invalid Name: its value cannot be read"):
        core_metadata.parse(data, parse_dist_filename(WHEEL))


# -- strict mode (packaging's validation, as PyPI's) ---------------------------------------------


def _lenient(data: bytes) -> dict[str, object]:
    """What the parse of before (parse_email alone) made of ``data``: it took it."""
    raw, _unparsed = parse_email(data)
    return dict(raw)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("Requires-Dist: foo >>= 1", "Invalid Requires-Dist: 'foo >>= 1' is invalid"),
        ("Requires-Dist: foo; os_name ==", "Invalid Requires-Dist"),
        # escaped once, so that the message fits an HTTP reason phrase
        ("Requires-Dist: f\u00e9\u00e9 >>= 1", "Invalid Requires-Dist: 'f\\xe9\\xe9 >>= 1'"),
        ("Requires-Python: >=3.8\nRequires-Python: <4", "Invalid Requires-Python: the field may"),
        ("Name: other", "Invalid Name: the field may appear once, it appears 2 times"),
        ("Version: 2.0", "Invalid Version: the field may appear once, it appears 2 times"),
        ("Summary: again", "Invalid Summary: the field may appear once"),
        ("X-Evil: 1", "Invalid core metadata field X-Evil: not a field of the core metadata"),
        ("License-Expression: MIT", "Invalid License-Expression: license-expression introduced"),
    ],
    ids=[
        "bad-requires-dist",
        "bad-marker",
        "non-ascii-requires-dist",
        "requires-python-twice",
        "name-twice",
        "version-twice",
        "summary-twice",
        "unknown-field",
        "field-too-new",
    ],
)
def test_strict_parse_refuses_naming_the_field(extra: str, message: str) -> None:
    data = metadata(extra=extra)
    with pytest.raises(InvalidUpload, match=re.escape(message)) as refused:
        core_metadata.parse(data, parse_dist_filename(WHEEL))
    assert refused.value.message.endswith(f"(core metadata of {WHEEL!r}).")


@pytest.mark.parametrize("version", ["9.0", "3.0", "2.9", "banana"])
def test_strict_parse_refuses_an_unknown_metadata_version(version: str) -> None:
    data = metadata().replace(b"Metadata-Version: 2.1", f"Metadata-Version: {version}".encode())
    assert _lenient(data)["metadata_version"] == version
    with pytest.raises(InvalidUpload, match=f"Invalid Metadata-Version: '{version}' is not a"):
        core_metadata.parse(data, parse_dist_filename(WHEEL))


def test_strict_parse_accepts_every_known_metadata_version() -> None:
    for version in ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4"):
        data = (f"Metadata-Version: {version}\nName: demo-pkg\nVersion: 1.0\n\nbody\n").encode()
        assert core_metadata.parse(data, parse_dist_filename(WHEEL))["metadata_version"] == version


# -- requirements on a URL (direct references), refused as PyPI refuses them ---------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "Requires-Dist: payload @ http://evil.example/payload-1.0-py3-none-any.whl",
            "Invalid Requires-Dist: Can't have direct dependency: "
            "'payload @ http://evil.example/payload-1.0-py3-none-any.whl'",
        ),
        (
            "Requires-Dist: payload@https://evil.example/p.whl ; extra == 'x'",
            "Can't have direct dependency: \"payload@https://evil.example/p.whl ; extra == 'x'\"",
        ),
        (
            "Requires-Dist: payload @ git+https://evil.example/payload@main",
            "Can't have direct dependency: 'payload @ git+https://evil.example/payload@main'",
        ),
        (
            "Requires-Dist: payload @ file:///tmp/payload.whl",
            "Can't have direct dependency: 'payload @ file:///tmp/payload.whl'",
        ),
        (
            "Provides-Dist: payload @ https://evil.example/p.whl",
            "Invalid Provides-Dist: Can't have direct dependency",
        ),
        (
            "Obsoletes-Dist: payload @ https://evil.example/p.whl",
            "Invalid Obsoletes-Dist: Can't have direct dependency",
        ),
    ],
    ids=["http", "https-extra", "git", "file", "provides-dist", "obsoletes-dist"],
)
def test_strict_parse_refuses_a_requirement_on_a_url(extra: str, message: str) -> None:
    data = metadata(extra=extra)
    # The parse of before took it, and pip would fetch the URL.
    assert _lenient(data)
    with pytest.raises(InvalidUpload, match=re.escape(message)) as refused:
        core_metadata.parse(data, parse_dist_filename(WHEEL))
    assert "it would be installed from that URL, not from the index" in refused.value.message
    assert refused.value.message.endswith(f"(core metadata of {WHEEL!r}).")


def test_strict_parse_names_every_requirement_on_a_url() -> None:
    extra = "Requires-Dist: a @ https://h/a.whl\nRequires-Dist: idna\nRequires-Dist: b @ https://h/b.whl"
    with pytest.raises(InvalidUpload) as refused:
        core_metadata.parse(metadata(extra=extra), parse_dist_filename(WHEEL))
    assert "'a @ https://h/a.whl'" in refused.value.message
    assert "'b @ https://h/b.whl'" in refused.value.message
    assert "idna" not in refused.value.message


def test_strict_parse_accepts_requirements_without_a_url() -> None:
    extra = (
        "Requires-Dist: idna>=3 ; python_version >= '3.8'\nRequires-Dist: attrs[tests]\n"
        "Provides-Dist: demo-pkg\nObsoletes-Dist: old-demo (<1.0)"
    )
    fields = core_metadata.parse(metadata(extra=extra), parse_dist_filename(WHEEL))
    assert fields["requires_dist"] == ["idna>=3 ; python_version >= '3.8'", "attrs[tests]"]


def test_direct_references_lists_an_unparsable_requirement_that_may_hold_a_url() -> None:
    raw = {"provides_dist": ["weird @@ http://h/x", "fine-name"], "requires_dist": ["idna"]}
    assert core_metadata.direct_references(raw) == [("Provides-Dist", "weird @@ http://h/x")]


# -- License-File under Metadata-Version 2.1: setuptools' habit, which PyPI accepts --------------


def _packaging_alone_refuses(data: bytes) -> str:
    """What packaging's strict validation alone (tufpi's check before) said of ``data``."""
    with pytest.raises(ExceptionGroup) as refused:
        Metadata.from_raw(parse_email(data)[0], validate=True)
    return "; ".join(str(e) for e in refused.value.exceptions)


@pytest.mark.parametrize(
    ("data", "filename"),
    [(SIX_1_17, SIX_WHEEL), (DATEUTIL_2_9, DATEUTIL_WHEEL), (BOTOCORE_1_44, BOTOCORE_WHEEL)],
    ids=["six", "dateutil", "botocore"],
)
def test_real_setuptools_metadata_with_license_file_is_accepted(data: bytes, filename: str) -> None:
    refused = _packaging_alone_refuses(data)
    assert refused == "license-file introduced in metadata version 2.4, not 2.1"
    fields = core_metadata.parse(data, parse_dist_filename(filename))
    assert fields["metadata_version"] == "2.1"
    assert fields["license"]
    # Not recorded, as PyPI records none: twine leaves it out of the form below 2.4.
    assert "license_files" not in fields


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3"])
def test_license_file_below_metadata_2_4_is_accepted_and_dropped(version: str) -> None:
    data = (
        f"Metadata-Version: {version}\nName: demo-pkg\nVersion: 1.0\n"
        "License-File: LICENSE\nLicense-File: NOTICE\n\nbody\n"
    ).encode()
    fields = core_metadata.parse(data, parse_dist_filename(WHEEL))
    assert fields["metadata_version"] == version
    assert "license_files" not in fields


def test_license_file_below_2_4_is_not_checked_as_pypi_never_sees_it() -> None:
    data = metadata(extra="License-File: ../LICENSE")
    assert "license_files" not in core_metadata.parse(data, parse_dist_filename(WHEEL))


def test_license_file_from_metadata_2_4_is_kept_and_checked() -> None:
    data = metadata(extra="License-File: LICENSE").replace(b"2.1", b"2.4", 1)
    assert core_metadata.parse(data, parse_dist_filename(WHEEL))["license_files"] == ["LICENSE"]
    bad = metadata(extra="License-File: ../LICENSE").replace(b"2.1", b"2.4", 1)
    with pytest.raises(InvalidUpload, match=r"Invalid License-File: '\.\./LICENSE' is invalid"):
        core_metadata.parse(bad, parse_dist_filename(WHEEL))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "License-Expression: MIT",
            "Invalid License-Expression: license-expression introduced in metadata version 2.4, "
            "not 2.1",
        ),
        (
            "Dynamic: Requires-Dist",
            "Invalid Dynamic: dynamic introduced in metadata version 2.2, not 2.1",
        ),
    ],
    ids=["license-expression", "dynamic"],
)
def test_other_fields_newer_than_the_metadata_version_are_still_refused(
    extra: str, message: str
) -> None:
    """twine sends these, and PyPI refuses them; beside License-File too."""
    data = with_header(SIX_1_17, extra)
    with pytest.raises(InvalidUpload, match=re.escape(message)) as refused:
        core_metadata.parse(data, parse_dist_filename(SIX_WHEEL))
    assert "License-File" not in refused.value.message
    assert refused.value.message.endswith(f"(core metadata of {SIX_WHEEL!r}).")


@pytest.mark.parametrize(
    ("version", "message"),
    [("banana", "'banana' is not a valid metadata version"), (None, "Metadata-Version")],
    ids=["not-a-version", "missing"],
)
def test_license_file_does_not_hide_a_bad_metadata_version(
    version: str | None, message: str
) -> None:
    data = with_header(SIX_1_17, "License-File: LICENSE")
    replacement = b"" if version is None else f"Metadata-Version: {version}\n".encode()
    data = data.replace(b"Metadata-Version: 2.1\n", replacement, 1)
    with pytest.raises(InvalidUpload, match=re.escape(message)):
        core_metadata.parse(data, parse_dist_filename(SIX_WHEEL))


def test_setuptools_metadata_2_2_with_dynamic_license_file_is_accepted() -> None:
    """The shape setuptools wrote under 2.2 (PEP 643): License-File, and Dynamic naming it."""
    data = metadata(extra="License-File: LICENSE\nDynamic: license-file\nDynamic: author")
    data = data.replace(b"Metadata-Version: 2.1", b"Metadata-Version: 2.2")
    fields = core_metadata.parse(data, parse_dist_filename(WHEEL))
    assert fields["dynamic"] == ["license-file", "author"]
    assert "license_files" not in fields


@pytest.mark.parametrize("value", ["Dynamic", "dynamic"])
def test_dynamic_naming_itself_is_refused_as_pypi_refuses_it(value: str) -> None:
    data = metadata(extra=f"Dynamic: {value}").replace(b"2.1", b"2.2", 1)
    # packaging alone takes it
    assert Metadata.from_raw(parse_email(data)[0], validate=True).dynamic == ["dynamic"]
    with pytest.raises(InvalidUpload, match=f"Invalid Dynamic: Dynamic field '{value}' is not"):
        core_metadata.parse(data, parse_dist_filename(WHEEL))
