"""What the proxy refuses to hand out: distributions whose metadata sends the installer to a
URL (tufpi.client.dependencies)."""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from tufpi.client import dependencies
from tufpi.client.dependencies import check_core_metadata, check_distribution
from tufpi.client.refusals import Refusal

WHEEL = "victim-1.0-py3-none-any.whl"
SDIST = "victim-1.0.tar.gz"
URL_DEP = "payload @ http://127.0.0.1:9/payload-1.0-py3-none-any.whl"


def metadata(*requires: str) -> bytes:
    lines = ["Metadata-Version: 2.1", "Name: victim", "Version: 1.0"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\nbody\n").encode()


def write_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def a_wheel(tmp_path: Path, data: bytes, name: str = WHEEL) -> Path:
    return write_wheel(
        tmp_path / name,
        {"victim/__init__.py": b"", "victim-1.0.dist-info/METADATA": data},
    )


def an_sdist(tmp_path: Path, data: bytes, name: str = SDIST) -> Path:
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as archive:
        for member, content in (("victim-1.0/PKG-INFO", data), ("victim-1.0/setup.py", b"")):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize(
    "requirement",
    [
        URL_DEP,
        "payload@https://evil.example/p.whl ; python_version >= '3'",
        "payload[extra] @ git+https://evil.example/payload@main",
        "payload @ file:///tmp/payload.whl",
    ],
)
def test_metadata_with_a_url_dependency_is_refused_naming_it(requirement: str) -> None:
    with pytest.raises(Refusal) as refused:
        check_core_metadata(metadata("idna>=3", requirement), WHEEL)
    assert refused.value.message == (
        f"{WHEEL!r} declares a direct URL dependency {requirement!r}, which is not a "
        "verified target: refused"
    )
    assert refused.value.status == 403


def test_metadata_without_url_dependencies_passes() -> None:
    check_core_metadata(metadata("idna>=3", "attrs[tests] ; extra == 'x'"), WHEEL)
    check_core_metadata(b"Metadata-Version: 2.1\nName: victim\nVersion: 1.0\n", WHEEL)


def test_provides_and_obsoletes_dist_are_not_followed_so_not_refused() -> None:
    data = metadata().replace(b"\n\n", b"\nProvides-Dist: x @ https://h/x.whl\n\n", 1)
    check_core_metadata(data, WHEEL)


def test_a_requirement_that_does_not_parse_but_may_hold_a_url_is_refused() -> None:
    # packaging refuses it; a more lenient installer might still take the URL out of it.
    with pytest.raises(Refusal, match="declares a direct URL dependency 'payload @@ http"):
        check_core_metadata(metadata("payload @@ http://h/p.whl"), WHEEL)


def test_an_undecodable_requires_dist_is_still_read() -> None:
    data = metadata(URL_DEP).replace(b"payload @", b"p\xffayload @")
    with pytest.raises(Refusal, match="declares a direct URL dependency"):
        check_core_metadata(data, WHEEL)


def test_a_wheel_with_a_url_dependency_is_refused(tmp_path: Path) -> None:
    path = a_wheel(tmp_path, metadata(URL_DEP))
    with pytest.raises(Refusal, match=re.escape(f"declares a direct URL dependency {URL_DEP!r}")):
        check_distribution(path, WHEEL)


def test_an_sdist_declaring_a_url_dependency_is_refused(tmp_path: Path) -> None:
    path = an_sdist(tmp_path, metadata(URL_DEP))
    with pytest.raises(Refusal, match=re.escape(f"declares a direct URL dependency {URL_DEP!r}")):
        check_distribution(path, SDIST)


def test_distributions_without_url_dependencies_pass(tmp_path: Path) -> None:
    check_distribution(a_wheel(tmp_path, metadata("idna")), WHEEL)
    check_distribution(an_sdist(tmp_path, metadata("idna")), SDIST)
    other = tmp_path / "index.html"
    other.write_bytes(b"<html></html>")
    check_distribution(other, "index.html")  # not a distribution: nothing to check


def test_a_wheels_metadata_is_read_within_its_cap(tmp_path: Path) -> None:
    # A METADATA member that inflates past the cap is refused, not read into memory.
    big = metadata() + b"x" * (dependencies.METADATA_MAX_LENGTH + 1)
    path = a_wheel(tmp_path, big)
    with pytest.raises(Refusal, match="its METADATA is larger than"):
        check_distribution(path, WHEEL)


def test_a_wheel_with_two_metadata_files_is_refused(tmp_path: Path) -> None:
    # Which one an installer reads depends on the installer.
    path = write_wheel(
        tmp_path / WHEEL,
        {
            "victim-1.0.dist-info/METADATA": metadata(),
            "other-1.0.dist-info/METADATA": metadata(URL_DEP),
        },
    )
    with pytest.raises(Refusal, match=r"holds 2 \.dist-info/METADATA files, not one"):
        check_distribution(path, WHEEL)


def test_a_corrupt_distribution_is_refused(tmp_path: Path) -> None:
    path = tmp_path / WHEEL
    path.write_bytes(b"PK not a zip")
    with pytest.raises(Refusal, match="its dependencies cannot be checked"):
        check_distribution(path, WHEEL)


def test_the_verdict_is_cached_per_file(tmp_path: Path) -> None:
    path = a_wheel(tmp_path, metadata(URL_DEP), name="cached-1.0-py3-none-any.whl")
    before = dependencies._verdict.cache_info().hits
    for _ in range(3):
        with pytest.raises(Refusal, match="declares a direct URL dependency"):
            check_distribution(path, path.name)
    assert dependencies._verdict.cache_info().hits == before + 2
