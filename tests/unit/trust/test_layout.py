"""Target paths, bins and metadata file names (tufpi.trust.layout)."""

from __future__ import annotations

import hashlib

import pytest
from tuf.api.metadata import DelegatedRole, SuccinctRoles

from tufpi.trust import layout


def sample_paths(count: int = 400) -> list[str]:
    """Target paths of both shapes tufpi signs, plus a few odd ones."""
    paths = []
    for i in range(count):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        name = f"proj-{i}"
        paths.append(f"packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{name}-1.0.tar.gz")
        paths.append(layout.page_path(name, "index.html"))
        paths.append(layout.page_path(name, "index.json"))
    return [*paths, "", "x", "simple/ünïcode/index.html"]


@pytest.mark.parametrize("bins", [2, 4, 16, 32, 256, 4096, 16384, 2**20])
def test_bin_index_and_name_agree_with_succinct_roles(bins: int) -> None:
    succinct = layout.succinct_roles(["keyid"], bins)
    assert succinct.bit_length == bins.bit_length() - 1
    assert succinct.number_of_bins == bins
    for path in sample_paths():
        index = layout.bin_index(path, bins)
        assert 0 <= index < bins
        assert layout.bin_name(index, bins) == succinct.get_role_for_target(path)


@pytest.mark.parametrize("bins", [2, 16, 32, 16384])
def test_bin_names_are_the_succinct_role_names(bins: int) -> None:
    succinct = SuccinctRoles(["keyid"], 1, bins.bit_length() - 1, layout.BIN_PREFIX)
    names = [layout.bin_name(i, bins) for i in range(min(bins, 4096))]
    assert names == list(succinct.get_roles())[: len(names)]
    assert all(succinct.is_delegated_role(name) for name in names)


def test_bin_name_examples() -> None:
    assert layout.bin_name(0, 16384) == "bin-0000"
    assert layout.bin_name(16383, 16384) == "bin-3fff"
    assert layout.bin_name(10, 16) == "bin-a"
    assert layout.bin_name(1, 2) == "bin-1"
    assert layout.bin_name(5, 32) == "bin-05"


@pytest.mark.parametrize(("bins", "bits"), [(2, 1), (4, 2), (16384, 14), (2**32, 32)])
def test_bit_length_of_powers_of_two(bins: int, bits: int) -> None:
    assert layout.bit_length(bins) == bits


@pytest.mark.parametrize("bins", [-4, 0, 1, 3, 6, 100, 16383, 16385, 2**33])
def test_bit_length_refuses_other_counts(bins: int) -> None:
    with pytest.raises(ValueError, match="bins"):
        layout.bit_length(bins)


def test_bin_index_refuses_a_bad_count() -> None:
    with pytest.raises(ValueError, match="power of two"):
        layout.bin_index("simple/a/index.html", 12)


def test_page_path() -> None:
    assert layout.page_path("my-proj", "index.json") == "simple/my-proj/index.json"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("packages/ab/cd/ef01/demo-1.0.tar.gz", "packages/ab/cd/ef01/HASH.demo-1.0.tar.gz"),
        ("simple/demo/index.html", "simple/demo/HASH.index.html"),
        ("top.txt", "HASH.top.txt"),
    ],
)
def test_consistent_path_prefixes_the_file_name(path: str, expected: str) -> None:
    assert layout.consistent_path(path, "HASH") == expected


def test_consistent_path_is_what_ngclient_downloads() -> None:
    # ngclient (prefix_targets_with_hash) puts the first listed hash, tufpi's sha256, in front.
    path, sha256 = "simple/demo/index.json", "a" * 64
    dirname, sep, basename = path.rpartition("/")
    assert layout.consistent_path(path, sha256) == f"{dirname}{sep}{sha256}.{basename}"


def test_metadata_key() -> None:
    assert layout.metadata_key("timestamp") == "tuf/timestamp.json"
    assert layout.metadata_key("root") == "tuf/root.json"
    assert layout.metadata_key("snapshot", 7) == "tuf/7.snapshot.json"
    assert layout.metadata_key("bin-3fff", 1) == "tuf/1.bin-3fff.json"


def test_delegated_paths_cover_both_target_shapes_and_nothing_deeper() -> None:
    role = DelegatedRole("bins", [], 1, True, list(layout.DELEGATED_PATHS))
    assert role.is_delegated_path("packages/ab/cd/ef01/demo-1.0-py3-none-any.whl")
    assert role.is_delegated_path("simple/demo/index.html")
    assert role.is_delegated_path("simple/demo/index.json")
    assert not role.is_delegated_path("packages/ab/cd/demo-1.0.tar.gz")
    assert not role.is_delegated_path("simple/demo/x/index.html")
    assert not role.is_delegated_path("tuf/1.root.json")
