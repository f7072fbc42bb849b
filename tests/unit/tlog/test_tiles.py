"""C2SP tlog-tiles: the spec's examples of tile coverage and path encoding, tiles written
from leaf hashes giving back the same roots and proofs, and malformed paths, tiles and
bundles refused."""

from __future__ import annotations

import functools

import pytest

from tufpi.tlog import hashing, tiles
from tufpi.tlog.tiles import Tile, TileError

SIZE = 70_000


@functools.cache
def _leaves() -> list[bytes]:
    return [hashing.leaf_hash(number.to_bytes(4, "big")) for number in range(SIZE)]


@functools.cache
def _store(size: int) -> dict[Tile, bytes]:
    """The tiles of the first ``size`` leaves, as a log would write them."""
    range_hash = hashing.list_hasher(_leaves()[:size])
    return {tile: tiles.tile_content(tile, range_hash) for tile in tiles.tiles_for_size(size)}


def _reader(size: int) -> tiles.TileReader:
    store = _store(size)
    return store.__getitem__


def test_the_spec_example_of_70000_leaves() -> None:
    made = list(tiles.tiles_for_size(70_000))
    assert made == [
        *(Tile(0, n) for n in range(273)),
        Tile(0, 273, 112),
        Tile(1, 0),
        Tile(1, 1, 17),
        Tile(2, 0, 1),
    ]


def test_the_spec_example_of_256_leaves_and_the_empty_tree() -> None:
    assert list(tiles.tiles_for_size(256)) == [Tile(0, 0), Tile(1, 0, 1)]
    assert list(tiles.tiles_for_size(0)) == []


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (Tile(0, 1234067), "tile/0/x001/x234/067"),
        (Tile(3, 0), "tile/3/000"),
        (Tile(1, 1000, 17), "tile/1/x001/000.p/17"),
        (Tile(63, 999), "tile/63/999"),
    ],
)
def test_tile_paths_follow_the_spec_and_parse_back(tile: Tile, path: str) -> None:
    assert tile.path() == path
    assert tiles.parse_path(path) == (tile, False)


def test_entry_bundle_paths() -> None:
    assert Tile(0, 1234067, 5).entries_path() == "tile/entries/x001/x234/067.p/5"
    assert tiles.parse_path("tile/entries/x001/x234/067.p/5") == (Tile(0, 1234067, 5), True)
    with pytest.raises(TileError, match="only level-0"):
        Tile(1, 0).entries_path()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tile/0/1/000", "not 3 digits"),
        ("tile/00/000", "not a canonical"),
        ("tile/0/x000/001", "not a canonical"),
        ("tile/0/001/x002", "not a canonical"),
        ("tile/0/000.p/0", "width is within 1"),
        ("tile/0/000.p/256", "1 to 255"),
        ("tile/0/000.p/07", "not a canonical"),
        ("tile/64/000", "level is within 0 and 63"),
        ("tile/-1/000", "not a decimal"),
        ("tiles/0/000", "not a tile path"),
        ("tile/0/" + "x001/" * 7 + "001", "at most 7"),
        ("tile/0/0a1", "not a decimal"),
    ],
)
def test_malformed_tile_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(TileError, match=reason):
        tiles.parse_path(path)


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_536, 65_537, SIZE])
def test_root_from_tiles_is_the_tree_hash(size: int) -> None:
    assert tiles.root_hash(size, _reader(size)) == hashing.root_hash(_leaves()[:size])


@pytest.mark.parametrize("index", [0, 255, 256, 65_535, 65_536, SIZE - 1])
def test_inclusion_proofs_from_tiles_verify(index: int) -> None:
    proof = tiles.inclusion_proof(index, SIZE, _reader(SIZE))
    root = tiles.root_hash(SIZE, _reader(SIZE))
    hashing.verify_inclusion(index, SIZE, _leaves()[index], proof, root)


@pytest.mark.parametrize("old", [1, 255, 256, 300, 65_536, 69_999])
def test_consistency_proofs_from_tiles_verify(old: int) -> None:
    proof = tiles.consistency_proof(old, SIZE, _reader(SIZE))
    old_root = hashing.root_hash(_leaves()[:old])
    hashing.verify_consistency(old, SIZE, old_root, hashing.root_hash(_leaves()), proof)


def test_a_tampered_tile_makes_the_proof_fail() -> None:
    store = dict(_store(SIZE))
    tile = Tile(1, 0)
    store[tile] = bytes(32) + store[tile][32:]
    root = hashing.root_hash(_leaves())
    proof = tiles.inclusion_proof(300, SIZE, store.__getitem__)
    with pytest.raises(hashing.ProofError):
        hashing.verify_inclusion(300, SIZE, _leaves()[300], proof, root)


def test_growing_writes_the_completed_and_the_new_partial_tiles() -> None:
    assert list(tiles.new_tiles(250, 514)) == [
        Tile(0, 0),
        Tile(0, 1),
        Tile(0, 2, 2),
        Tile(1, 0, 2),
    ]
    assert list(tiles.new_tiles(514, 514)) == []
    assert list(tiles.new_tiles(514, 515)) == [Tile(0, 2, 3)]  # level 1 is unchanged
    written = {tile for old in range(0, 1000, 37) for tile in tiles.new_tiles(old, old + 37)}
    assert {tile for tile in tiles.tiles_for_size(999) if not tile.partial} <= written


def test_level_one_hashes_are_parent_hashes_of_full_level_zero_tiles() -> None:
    store = _store(SIZE)
    level1 = tiles.split_hashes(Tile(1, 0), store[Tile(1, 0)])
    assert level1[5] == tiles.parent_hash(store[Tile(0, 5)])


def test_tiles_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(TileError, match="is 64 bytes, not 3 hashes"):
        tiles.split_hashes(Tile(0, 0, 3), bytes(64))
    with pytest.raises(TileError, match="a full tile is 8192 bytes"):
        tiles.parent_hash(bytes(64))
    with pytest.raises(TileError, match="no tile 1 at level 1"):
        tiles.tile_for(1, 1, 65_000)


def test_entry_bundles_round_trip_and_malformed_ones_are_refused() -> None:
    entries = [b"", b"a", b"x" * 65_535]
    data = tiles.encode_bundle(entries)
    assert tiles.parse_bundle(Tile(0, 0, 3), data) == entries
    with pytest.raises(TileError, match="holds 3 entries, not 4"):
        tiles.parse_bundle(Tile(0, 0, 4), data)
    with pytest.raises(TileError, match="bytes after its 2 entries"):
        tiles.parse_bundle(Tile(0, 0, 2), data)
    with pytest.raises(TileError, match="ends inside entry 2"):
        tiles.parse_bundle(Tile(0, 0, 3), data[:-1])
    with pytest.raises(TileError, match="inside a length prefix"):
        tiles.parse_bundle(Tile(0, 0, 2), b"\x00\x00\x00")
    with pytest.raises(TileError, match="over 65535"):
        tiles.encode_bundle([b"x" * 65_536])


@pytest.mark.parametrize(
    ("old", "new"), [(0, 1), (0, 256), (1, 255), (255, 257), (250, 70_000), (65_535, 65_537)]
)
def test_appending_writes_the_same_tiles_as_the_whole_tree_gives(old: int, new: int) -> None:
    before = _store(old) if old else {}
    written = tiles.tiles_after_append(old, _leaves()[old:new], before.__getitem__)
    assert sorted(written) == list(tiles.new_tiles(old, new))
    whole = hashing.list_hasher(_leaves()[:new])
    assert written == {tile: tiles.tile_content(tile, whole) for tile in written}

    def read(tile: Tile) -> bytes:
        return written[tile] if tile in written else before[tile]

    assert tiles.root_hash(new, read) == hashing.root_hash(_leaves()[:new])


def test_appending_in_batches_builds_the_whole_tree() -> None:
    store: dict[Tile, bytes] = {}
    size = 0
    for batch in [1, 300, 255, 1, 65_000, 4_443]:
        store.update(
            tiles.tiles_after_append(size, _leaves()[size : size + batch], store.__getitem__)
        )
        size += batch
    assert size == SIZE
    for tile in tiles.tiles_for_size(SIZE):
        assert store[tile] == _store(SIZE)[tile]
