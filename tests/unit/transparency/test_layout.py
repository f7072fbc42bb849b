"""The log's storage keys, lookup files and which /tlog/ paths are the log's."""

from __future__ import annotations

import hashlib

import pytest

from tufpi.tlog import tiles
from tufpi.transparency import layout


def test_keys() -> None:
    assert layout.tile_key(tiles.Tile(1, 1234067, 5)) == "tlog/tile/1/x001/x234/067.p/5"
    assert layout.bundle_key(tiles.Tile(0, 0)) == "tlog/tile/entries/000"
    path = "packages/ab/cd/x-1.0.tar.gz"
    digest = hashlib.sha256(path.encode()).hexdigest()
    assert layout.lookup_key(path) == f"tlog/lookup/{digest}"


def test_lookup_round_trip() -> None:
    entry = b'{"kind":"file"}'
    data = layout.lookup_content(70000, entry)
    assert data == b"70000\n" + entry
    assert layout.parse_lookup(data) == (70000, entry)
    assert layout.parse_lookup(b"0\n") == (0, b"")


@pytest.mark.parametrize(
    "data", [b"", b"12", b"-1\nx", b"+1\nx", b"01\nx", b" 1\nx", b"1 \nx", b"9" * 20 + b"\n"]
)
def test_lookup_refusals(data: bytes) -> None:
    with pytest.raises(ValueError, match="leaf index"):
        layout.parse_lookup(data)


@pytest.mark.parametrize(
    "rest",
    [
        "checkpoint",
        "tile/0/000",
        "tile/0/000.p/7",
        "tile/entries/x001/234",
        "tile/entries/000.p/1",
        "tile/2/000.p/1",
        "lookup/" + "a" * 64,
    ],
)
def test_log_paths(rest: str) -> None:
    assert layout.is_log_path(rest)


@pytest.mark.parametrize(
    "rest",
    [
        "",
        "checkpoint/",
        "checkpoint.tmp",
        "tile/0/0",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/x000/001",  # a leading zero group: not the canonical spelling
        "tile/entries/000/",
        "tile/../checkpoint",
        "tile/0/" + "x000/" * 40 + "000",
        "lookup/" + "A" * 64,
        "lookup/" + "a" * 63,
        "lookup/" + "a" * 64 + "/x",
        "lookup/../checkpoint",
        ".staging/x",
    ],
)
def test_other_paths(rest: str) -> None:
    assert not layout.is_log_path(rest)
