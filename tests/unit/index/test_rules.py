"""Release identity, normalised filenames and which uploads collide (tufpi.index.rules)."""

from __future__ import annotations

import re

import pytest
from packaging.version import Version

from tufpi.index.errors import InvalidUpload
from tufpi.index.names import parse_dist_filename
from tufpi.index.rules import (
    UsedFilename,
    check_unused,
    normalize_filename,
    normalized_filename,
    release_key,
)

SHA_A, SHA_B = "a" * 64, "b" * 64


@pytest.mark.parametrize("spelling", ["1", "1.0", "1.0.0", "1.00", "01.0", "1.0.0.0"])
def test_one_release_whatever_trailing_zeros(spelling: str) -> None:
    # str(Version(...)), the key of before, keeps them apart: three releases for pip's one.
    assert release_key(Version(spelling)) == "1"
    assert {str(Version(v)) for v in ("1.0", "1.0.0", "1.00")} == {"1.0", "1.0.0"}


def test_release_keys_keep_what_pip_tells_apart() -> None:
    keys = {release_key(Version(v)) for v in ("1.0", "1.0.1", "1.0a1", "1.0.post1", "1!1.0")}
    assert len(keys) == 5


@pytest.mark.parametrize(
    "twin",
    [
        "demo-1.0-py3-none-any.whl",
        "Demo-1.0.0-py3-none-any.whl",
        "demo-1.00-py3-none-any.whl",
        "DEMO-1.0-PY3-NONE-ANY.whl",
        "demo-1-py3-none-any.whl",
    ],
)
def test_wheel_spellings_of_one_distribution_normalise_alike(twin: str) -> None:
    assert normalize_filename(twin) == "demo-1-py3-none-any.whl"


def test_wheel_tag_order_does_not_matter() -> None:
    assert normalize_filename("x-1.0-py3.py2-none-any.whl") == normalize_filename(
        "x-1.0-py2.py3-none-any.whl"
    )


@pytest.mark.parametrize(
    "other",
    [
        "demo-1.0-py2-none-any.whl",  # other tags
        "demo-1.0-1-py3-none-any.whl",  # a build tag
        "demo-1.0.1-py3-none-any.whl",  # another release
        "demo2-1.0-py3-none-any.whl",  # another project
    ],
)
def test_other_wheels_normalise_apart(other: str) -> None:
    assert normalize_filename(other) != normalize_filename("demo-1.0-py3-none-any.whl")


@pytest.mark.parametrize("sdist", ["demo-1.0.tar.gz", "Demo-1.0.0.tar.gz", "demo-1.zip"])
def test_one_sdist_per_release_whatever_its_spelling_or_suffix(sdist: str) -> None:
    assert normalize_filename(sdist) == "demo-1.tar.gz"


def test_normalize_filename_refuses_what_is_no_distribution() -> None:
    with pytest.raises(InvalidUpload):
        normalize_filename("demo-1.0.exe")


def _used(filename: str, sha256: str | None) -> UsedFilename:
    return UsedFilename(filename, normalize_filename(filename), sha256)


def _check(filename: str, sha256: str, *used: UsedFilename) -> bool:
    return check_unused(parse_dist_filename(filename), sha256, list(used))


def test_a_new_filename_is_accepted() -> None:
    assert _check("demo-1.0-py3-none-any.whl", SHA_A) is False
    assert _check("demo-1.0-py3-none-any.whl", SHA_A, _used("demo-2.0.tar.gz", SHA_B)) is False


def test_the_very_file_again_changes_nothing() -> None:
    used = _used("demo-1.0-py3-none-any.whl", SHA_A)
    assert _check("demo-1.0-py3-none-any.whl", SHA_A, used) is True


def test_a_filename_with_other_bytes_is_refused() -> None:
    used = _used("demo-1.0-py3-none-any.whl", SHA_A)
    with pytest.raises(InvalidUpload, match=r"File already exists .* with different content"):
        _check("demo-1.0-py3-none-any.whl", SHA_B, used)


@pytest.mark.parametrize("sha256", [SHA_A, SHA_B])
def test_a_removed_filename_is_refused_even_with_the_same_bytes(sha256: str) -> None:
    used = _used("demo-1.0-py3-none-any.whl", None)
    with pytest.raises(InvalidUpload, match=r"was used before .*since removed"):
        _check("demo-1.0-py3-none-any.whl", sha256, used)


@pytest.mark.parametrize("sha256", [SHA_A, SHA_B])
def test_another_spelling_of_a_wheel_is_refused(sha256: str) -> None:
    used = _used("demo-1.0-py3-none-any.whl", SHA_A)
    with pytest.raises(InvalidUpload, match=re.escape("same wheel as 'demo-1.0-py3-none-any.whl'")):
        _check("demo-1.0.0-py3-none-any.whl", sha256, used)


def test_a_second_sdist_of_a_release_is_refused() -> None:
    used = _used("demo-1.0.tar.gz", SHA_A)
    with pytest.raises(InvalidUpload, match=re.escape("already has an sdist ('demo-1.0.tar.gz')")):
        _check("demo-1.0.0.zip", SHA_B, used)
    removed = _used("demo-1.0.tar.gz", None)
    with pytest.raises(InvalidUpload, match="since removed"):
        _check("demo-1.0.0.tar.gz", SHA_B, removed)


def test_an_identical_file_is_a_no_op_beside_twins_of_before() -> None:
    # Twins recorded before the rules (migration 0004) do not turn the very file away.
    first, twin = _used("demo-1.0.tar.gz", SHA_A), _used("demo-1.0.0.tar.gz", SHA_B)
    assert _check("demo-1.0.tar.gz", SHA_A, first, twin) is True
    with pytest.raises(InvalidUpload):
        _check("demo-1.00.tar.gz", SHA_A, first, twin)


def test_normalized_filename_of_a_parsed_dist() -> None:
    dist = parse_dist_filename("Demo.Pkg-1.0-7x-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert normalized_filename(dist) == "demo_pkg-1-7x-cp311-cp311-manylinux_2_17_x86_64.whl"
