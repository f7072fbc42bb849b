"""C2SP tiled transparency logs (c2sp.org/tlog-tiles): which tiles cover a tree, their
paths, entry bundles, and tree hashes and proofs computed from tile contents.

A tile at level ``l`` holds up to 256 hashes; hash ``i`` of tile ``n`` is the tree hash of
leaves ``[(n*256 + i) * 256**l, (n*256 + i + 1) * 256**l)``. The rightmost tile of a level
is partial (1 to 255 hashes) when the tree's size is not a multiple of its span; an empty
tile does not exist.

Tile contents are not trusted by themselves: a reader computes a proof from them and
verifies it against a signed checkpoint's root (``hashing.verify_inclusion`` /
``verify_consistency``), which any wrong hash in a tile makes fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

from tufpi.tlog import hashing
from tufpi.tlog.hashing import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF


class TileError(ValueError):
    """A tile coordinate, path, tile content or entry bundle is malformed."""


@dataclasses.dataclass(frozen=True, order=True)
class Tile:
    """A tile: its level (0 holds leaf hashes), index within the level, and width (256
    for a full tile, 1 to 255 for a partial one)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise TileError(f"a tile level is within 0 and {MAX_LEVEL}, not {self.level}")
        if self.index < 0:
            raise TileError(f"a tile index is not negative, not {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"a tile width is within 1 and {TILE_WIDTH}, not {self.width}")

    @property
    def partial(self) -> bool:
        """Whether the tile holds fewer than 256 hashes."""
        return self.width < TILE_WIDTH

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{encode_index(self.index)}{self._suffix()}"

    def entries_path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``: the entry bundle of a level-0 tile."""
        if self.level != 0:
            raise TileError(f"only level-0 tiles have entry bundles, not level {self.level}")
        return f"tile/entries/{encode_index(self.index)}{self._suffix()}"

    def _suffix(self) -> str:
        return f".p/{self.width}" if self.partial else ""

    def leaf_range(self) -> tuple[int, int]:
        """The leaves ``[start, end)`` the tile's hashes span (by its width)."""
        span = 1 << (TILE_HEIGHT * self.level)
        start = self.index * TILE_WIDTH * span
        return start, start + self.width * span


# Reads a tile's content (the caller fetches it: storage, HTTP, a cache).
TileReader = Callable[[Tile], bytes]


def encode_index(index: int) -> str:
    """A tile index as zero-padded 3-digit path elements, all but the last prefixed with
    ``x``: 1234067 is ``x001/x234/067``."""
    if index < 0:
        raise TileError(f"a tile index is not negative, not {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_path(path: str) -> tuple[Tile, bool]:
    """The tile a path names, and whether it is the entry bundle (``tile/entries/...``)
    rather than the hash tile; only the one canonical spelling of each is accepted."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"{path[:100]!r} is not a tile path")
    entries = parts[1] == "entries"
    level = 0 if entries else _decimal(parts[1], "level")
    width = TILE_WIDTH
    if len(parts) > 3 and parts[-2].endswith(".p"):
        width = _decimal(parts[-1], "width")
        if width >= TILE_WIDTH:
            raise TileError(f"a partial tile is 1 to 255 wide, not {width}")
        parts = [*parts[:-2], parts[-2][:-2]]
    tile = Tile(level, _parse_index(parts[2:]), width)
    canonical = tile.entries_path() if entries else tile.path()
    if canonical != path:
        raise TileError(f"{path[:100]!r} is not a canonical tile path")
    return tile, entries


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise TileError(f"the tile {what} {text[:20]!r} is not a decimal number")
    return int(text)


def _parse_index(elements: list[str]) -> int:
    if len(elements) > 7:  # 2**63 has 19 digits: 7 elements of 3
        raise TileError("a tile index has at most 7 path elements")
    index = 0
    for element in elements:
        digits = element.removeprefix("x")
        if len(digits) != 3:
            raise TileError(f"the tile index element {element[:10]!r} is not 3 digits")
        index = index * 1000 + _decimal(digits, "index")
    return index


def tile_for(level: int, index: int, size: int) -> Tile:
    """Tile ``index`` of ``level`` as it stands in a tree of ``size`` leaves (full, or the
    partial rightmost tile); refuse a tile the tree does not have."""
    count = size >> (TILE_HEIGHT * level)  # hashes at this level
    width = min(TILE_WIDTH, count - index * TILE_WIDTH)
    if width < 1:
        raise TileError(f"a tree of {size} leaves has no tile {index} at level {level}")
    return Tile(level, index, width)


def tiles_for_size(size: int) -> Iterator[Tile]:
    """Every tile of a tree of ``size`` leaves, level by level, full ones then the partial
    one (C2SP: 70,000 leaves are 273 full and one 112-wide level-0 tiles, one full and
    one 17-wide level-1 tiles, and one 1-wide level-2 tile)."""
    return new_tiles(0, size)


def new_tiles(old_size: int, new_size: int) -> Iterator[Tile]:
    """The tiles a log writes when it grows from ``old_size`` to ``new_size`` leaves: the
    full tiles completed on the way and the partial tiles of the new size."""
    if not 0 <= old_size <= new_size:
        raise TileError(f"a tree of {old_size} leaves cannot grow into {new_size} leaves")
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        old_count = old_size >> (TILE_HEIGHT * level)
        new_count = new_size >> (TILE_HEIGHT * level)
        for index in range(old_count // TILE_WIDTH, new_count // TILE_WIDTH):
            yield Tile(level, index)
        if new_count % TILE_WIDTH and new_count != old_count:
            yield Tile(level, new_count // TILE_WIDTH, new_count % TILE_WIDTH)
        level += 1


def tiles_after_append(
    old_size: int, leaf_hashes: Sequence[bytes], read_tile: TileReader
) -> dict[Tile, bytes]:
    """The tiles to write when ``leaf_hashes`` are appended to a tree of ``old_size`` leaves
    (exactly ``new_tiles(old_size, old_size + len(leaf_hashes))``), their contents
    computed from the new hashes and the old tree's partial tiles (read through
    ``read_tile``), never from the whole tree."""
    written: dict[Tile, bytes] = {}
    level, fresh = 0, list(leaf_hashes)  # the hashes this level gains, in order
    while fresh:
        old_count = old_size >> (TILE_HEIGHT * level)
        base = old_count - old_count % TILE_WIDTH
        hashes: list[bytes] = []
        if old_count % TILE_WIDTH:
            old_tile = Tile(level, base // TILE_WIDTH, old_count % TILE_WIDTH)
            hashes = split_hashes(old_tile, read_tile(old_tile))
        hashes += fresh
        fresh = []
        for start in range(0, len(hashes), TILE_WIDTH):
            chunk = hashes[start : start + TILE_WIDTH]
            written[Tile(level, (base + start) // TILE_WIDTH, len(chunk))] = b"".join(chunk)
            if len(chunk) == TILE_WIDTH:
                fresh.append(hashing.root_hash(chunk))
        level += 1
    return written


def split_hashes(tile: Tile, data: bytes) -> list[bytes]:
    """A tile's content as its hashes; it must be exactly ``width`` hashes long."""
    if len(data) != tile.width * HASH_SIZE:
        raise TileError(
            f"{tile.path()} is {len(data)} bytes, not {tile.width} hashes of {HASH_SIZE}"
        )
    return [data[at : at + HASH_SIZE] for at in range(0, len(data), HASH_SIZE)]


def tile_content(tile: Tile, range_hash: hashing.RangeHash) -> bytes:
    """A tile's bytes, each hash the tree hash of the leaves it spans (read through
    ``range_hash``, e.g. ``hashing.list_hasher`` over the log's leaf hashes)."""
    start, _ = tile.leaf_range()
    span = 1 << (TILE_HEIGHT * tile.level)
    return b"".join(
        range_hash(start + number * span, start + (number + 1) * span)
        for number in range(tile.width)
    )


def parent_hash(full_tile: bytes) -> bytes:
    """The hash a full tile contributes to the level above: the tree hash of its 256."""
    if len(full_tile) != TILE_WIDTH * HASH_SIZE:
        raise TileError(f"a full tile is {TILE_WIDTH * HASH_SIZE} bytes, not {len(full_tile)}")
    return hashing.root_hash(split_hashes(Tile(0, 0), full_tile))


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry with a big-endian uint16 length before it."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    out = bytearray()
    for number, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError(f"entry {number} is {len(entry)} bytes, over {MAX_ENTRY_BYTES}")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_bundle(tile: Tile, data: bytes) -> list[bytes]:
    """The entries of a level-0 tile's bundle; exactly ``width`` of them, nothing after."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if len(entries) == tile.width:
            raise TileError(f"{tile.entries_path()} has bytes after its {tile.width} entries")
        if at + 2 > len(data):
            raise TileError(f"{tile.entries_path()} ends inside a length prefix")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TileError(f"{tile.entries_path()} ends inside entry {len(entries)}")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    if len(entries) != tile.width:
        raise TileError(f"{tile.entries_path()} holds {len(entries)} entries, not {tile.width}")
    return entries


def range_hasher(size: int, read_tile: TileReader) -> hashing.RangeHash:
    """A ``hashing.RangeHash`` for the tree of ``size`` leaves, computed from its tiles;
    each tile is read at most once."""
    cache: dict[Tile, list[bytes]] = {}

    def hashes_of(tile: Tile) -> list[bytes]:
        if tile not in cache:
            cache[tile] = split_hashes(tile, read_tile(tile))
        return cache[tile]

    def range_hash(start: int, end: int) -> bytes:
        count = end - start
        if not 0 <= start < end <= size:
            raise TileError(f"leaves [{start}, {end}) are not in a tree of {size}")
        if count & (count - 1) or start % count:
            middle = start + hashing.split_point(count)
            return hashing.node_hash(range_hash(start, middle), range_hash(middle, end))
        level, height = divmod(count.bit_length() - 1, TILE_HEIGHT)
        first = start >> (TILE_HEIGHT * level)  # the first hash's index at its level
        tile = tile_for(level, first // TILE_WIDTH, size)
        offset = first % TILE_WIDTH
        return hashing.root_hash(hashes_of(tile)[offset : offset + (1 << height)])

    return range_hash


def root_hash(size: int, read_tile: TileReader) -> bytes:
    """The tree hash of the tree of ``size`` leaves, from its tiles."""
    return hashing.root_hash([]) if size == 0 else range_hasher(size, read_tile)(0, size)


def inclusion_proof(index: int, size: int, read_tile: TileReader) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves, from tiles."""
    return hashing.inclusion_proof_from(index, size, range_hasher(size, read_tile))


def consistency_proof(old_size: int, new_size: int, read_tile: TileReader) -> list[bytes]:
    """The consistency proof from ``old_size`` to ``new_size`` leaves, from the tiles of
    the tree of ``new_size``."""
    return hashing.consistency_proof_from(old_size, new_size, range_hasher(new_size, read_tile))
