"""Following a C2SP tiled log (c2sp.org/tlog-tiles) from a saved checkpoint, for ``tufpi
monitor``: every byte verified before it is believed.

Pure apart from the ``Fetch`` it is given (the monitor's bounded HTTP reads). In order:

1. the new checkpoint: signed by the log's key the TUF root names, and cosigned by at
   least the root's threshold of its witnesses (``log_checks.open_signed_checkpoint``, the
   verifying client's check);
2. the saved checkpoint is a prefix of it: not smaller (a rollback), not another root for
   the same size, and a consistency proof computed from the new tree's tiles verifies
   (``log_checks.check_growth``, the client's too); a failure here keeps both signed
   checkpoints and the proof as ``ForkEvidence`` a person can publish;
3. the entries from the saved position: each entry bundle's leaf hashes are the level-0
   hash tile's, and the tree root recomputed from those leaf hashes (the rest of the tree
   from its tiles) is the signed root (``read_entries``): a server cannot show the monitor
   other entries than the signed tree commits to, nor leave one out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from tufpi.client.log_checks import (
    CHECKPOINT_MAX_LENGTH,
    LogRefusal,
    SignedCheckpoint,
    check_growth,
    open_signed_checkpoint,
)
from tufpi.tlog import hashing, tiles
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.hashing import HASH_SIZE
from tufpi.tlog.policy import LogPolicy
from tufpi.tlog.tiles import Tile, TileError, TileReader

# Reads ``path`` under the log's URL (``checkpoint``, ``tile/0/001``...), at most
# ``max_bytes`` bytes; raises ``LogRefusal`` when it cannot.
Fetch = Callable[[str, int], bytes]

CHECKPOINT_PATH = "checkpoint"
# An entry bundle holds at most 256 entries of at most 65,535 bytes, each after 2 bytes.
_ENTRY_CAP = 2 + tiles.MAX_ENTRY_BYTES
# The bundle bytes one round reads at most (it stops after the bundle that passes it): a
# log's key holder could sign a tree of huge entries; the next round reads on.
MAX_ROUND_BYTES = 256 * 1024 * 1024


def tile_reader(fetch: Fetch) -> TileReader:
    """A ``TileReader`` over ``fetch``, each tile read once and bounded by its width."""
    cache: dict[Tile, bytes] = {}

    def read(tile: Tile) -> bytes:
        if tile not in cache:
            cache[tile] = fetch(tile.path(), tile.width * HASH_SIZE)
        return cache[tile]

    return read


def read_entries(
    start: int,
    end: int,
    checkpoint: Checkpoint,
    fetch: Fetch,
    read_tile: TileReader,
    max_bytes: int = MAX_ROUND_BYTES,
) -> list[bytes]:
    """Entries ``[start, end)`` of the tree ``checkpoint`` signs, each proven part of it;
    fewer (from ``start``, whole bundles) when the bundles read pass ``max_bytes``.

    Raises:
        LogRefusal: a bundle that is malformed, does not match its hash tile, or whose leaf
            hashes do not lead to the signed root.
    """
    if not 0 <= start < end <= checkpoint.size:
        raise ValueError(f"leaves [{start}, {end}) are not in a tree of {checkpoint.size}")
    first = start // tiles.TILE_WIDTH
    leaf_hashes: list[bytes] = []
    data: list[bytes] = []
    read = 0
    try:
        for number in range(first, (end - 1) // tiles.TILE_WIDTH + 1):
            tile = tiles.tile_for(0, number, checkpoint.size)
            bundle = _bundle(tile, fetch, read_tile)
            data += bundle
            leaf_hashes += [hashing.leaf_hash(entry) for entry in bundle]
            read += sum(len(entry) for entry in bundle)
            if read >= max_bytes:
                break
        covered = first * tiles.TILE_WIDTH
        root = _root_with(covered, leaf_hashes, checkpoint.size, read_tile)
    except TileError as e:
        raise LogRefusal(f"the log's tiles are malformed: {e}") from e
    if root != checkpoint.root_hash:
        raise LogRefusal(
            f"the entries of leaves {covered} to {covered + len(data) - 1} and the hash tiles "
            f"do not lead to the signed root of size {checkpoint.size}: the log serves other "
            "entries or tiles than its checkpoint commits to"
        )
    return data[start - covered : min(end, covered + len(data)) - covered]


def _bundle(tile: Tile, fetch: Fetch, read_tile: TileReader) -> list[bytes]:
    """The entries of ``tile``'s bundle, their leaf hashes checked against the hash tile."""
    path = tile.entries_path()
    bundle = tiles.parse_bundle(tile, fetch(path, tile.width * _ENTRY_CAP))
    hashes = tiles.split_hashes(tile, read_tile(tile))
    for number, entry in enumerate(bundle):
        if hashing.leaf_hash(entry) != hashes[number]:
            leaf = tile.index * tiles.TILE_WIDTH + number
            raise LogRefusal(
                f"the entry bundle {path} does not match the hash tile {tile.path()} at leaf "
                f"{leaf}: the log serves other entries than its tree holds"
            )
    return bundle


def _root_with(start: int, leaf_hashes: Sequence[bytes], size: int, read_tile: TileReader) -> bytes:
    """The root of the tree of ``size`` leaves with leaves ``[start, start + len)`` hashed
    from ``leaf_hashes`` (the entries read) and every other subtree from tiles."""
    from_tiles = tiles.range_hasher(size, read_tile)
    end = start + len(leaf_hashes)

    def range_hash(low: int, high: int) -> bytes:
        if start <= low and high <= end:
            return hashing.root_hash(leaf_hashes[low - start : high - start])
        if high <= start or end <= low:
            return from_tiles(low, high)
        middle = low + hashing.split_point(high - low)
        return hashing.node_hash(range_hash(low, middle), range_hash(middle, high))

    return range_hash(0, size)


@dataclasses.dataclass(frozen=True)
class Progress:
    """One round's verified reading: the new checkpoint and the entries from ``start``."""

    signed: SignedCheckpoint
    start: int
    entries: tuple[bytes, ...]

    @property
    def position(self) -> int:
        """The leaves read so far, this round's included."""
        return self.start + len(self.entries)


def follow(
    policy: LogPolicy,
    saved: SignedCheckpoint | None,
    position: int,
    fetch: Fetch,
    max_entries: int,
) -> Progress:
    """Verify the log's current checkpoint against ``policy`` and the ``saved`` one, then
    read at most ``max_entries`` entries from ``position`` (the leaves read in earlier
    rounds), each proven part of the new tree.

    Raises:
        LogRefusal: anything did not verify (see the module's docstring).
    """
    if saved is not None and saved.checkpoint.origin != policy.origin:
        raise LogRefusal(
            f"the saved checkpoint is of the log {saved.checkpoint.origin!r}, the root names "
            f"the log {policy.origin!r}: give another --state file to follow it"
        )
    data = fetch(CHECKPOINT_PATH, CHECKPOINT_MAX_LENGTH)
    new = open_signed_checkpoint(policy, data, "the log's checkpoint")
    read_tile = tile_reader(fetch)
    if saved is not None:
        check_growth(saved, new, read_tile)
    end = min(new.checkpoint.size, position + max_entries)
    if end <= position:
        return Progress(new, position, ())
    found = read_entries(position, end, new.checkpoint, fetch, read_tile)
    return Progress(new, position, tuple(found))
