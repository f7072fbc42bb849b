"""Following a C2SP tiled log (c2sp.org/tlog-tiles) from a saved checkpoint, for ``tufpi
monitor``: every byte verified before it is believed.

Pure apart from the ``Fetch`` it is given (the monitor's bounded HTTP reads). In order:

1. the new checkpoint: signed by the log's key the TUF root names, and cosigned by at
   least the root's threshold of its witnesses (``verify_checkpoint``);
2. the saved checkpoint is a prefix of it: not smaller (a rollback), not another root for
   the same size, and a consistency proof computed from the new tree's tiles verifies
   (``check_growth``); a failure here keeps both signed checkpoints and the proof as
   ``Evidence`` a person can publish;
3. the entries from the saved position: each entry bundle's leaf hashes are the level-0
   hash tile's, and the tree root recomputed from those leaf hashes (the rest of the tree
   from its tiles) is the signed root (``read_entries``): a server cannot show the monitor
   other entries than the signed tree commits to, nor leave one out.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Sequence

from tufpi.tlog import checkpoints, hashing, notes, tiles
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.hashing import HASH_SIZE, ProofError
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import LogPolicy
from tufpi.tlog.tiles import Tile, TileError, TileReader

# Reads ``path`` under the log's URL (``checkpoint``, ``tile/0/001``...), at most
# ``max_bytes`` bytes; raises ``LogFailure`` when it cannot.
Fetch = Callable[[str, int], bytes]

CHECKPOINT_PATH = "checkpoint"
# An entry bundle holds at most 256 entries of at most 65,535 bytes, each after 2 bytes.
_ENTRY_CAP = 2 + tiles.MAX_ENTRY_BYTES
# The bundle bytes one round reads at most (it stops after the bundle that passes it): a
# log's key holder could sign a tree of huge entries; the next round reads on.
MAX_ROUND_BYTES = 256 * 1024 * 1024


class LogFailure(Exception):
    """The log could not be read or verified; ``evidence``, when the log contradicted
    itself (a fork, a rollback), is what proves it."""

    def __init__(self, message: str, evidence: Evidence | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.evidence = evidence


@dataclasses.dataclass(frozen=True)
class Signed:
    """A verified checkpoint and the signed note it came in (kept byte for byte)."""

    checkpoint: Checkpoint
    note: bytes


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Two signed checkpoints of one log that cannot both be honest; for a fork of a grown
    tree, the root of the new tree's first ``saved`` leaves (``prefix``, not the saved root)
    and the consistency proof from it to the new root, both from the new tree's tiles."""

    reason: str
    saved: Signed
    new: Signed
    proof: tuple[bytes, ...] = ()
    prefix: bytes | None = None

    def to_json(self) -> bytes:
        """The evidence as a JSON document: the notes as text, the proof's hashes base64."""
        document = {
            "what": "tufpi monitor: two checkpoints of one log that are not consistent",
            "origin": self.new.checkpoint.origin,
            "reason": self.reason,
            "saved_checkpoint": self.saved.note.decode(),
            "new_checkpoint": self.new.note.decode(),
            "consistency_proof": {
                "old_size": self.saved.checkpoint.size,
                "new_size": self.new.checkpoint.size,
                "old_root_in_new_tree": (
                    base64.b64encode(self.prefix).decode() if self.prefix is not None else None
                ),
                "hashes": [base64.b64encode(h).decode() for h in self.proof],
            },
        }
        return json.dumps(document, indent=2).encode() + b"\n"


def verify_checkpoint(data: bytes, policy: LogPolicy) -> Signed:
    """The checkpoint in ``data``, verified against ``policy``: the log's own signature
    and at least ``witness_threshold`` cosignatures of distinct witnesses it names.

    Raises:
        LogFailure: malformed, another log's, a signature by a trusted key that fails, no
            signature by the log, or too few cosignatures.
    """
    try:
        checkpoint, verified = checkpoints.open_checkpoint(
            data, [policy.log, *policy.witnesses], policy.origin
        )
    except NoteError as e:
        raise LogFailure(f"the log's checkpoint does not verify: {e}") from e
    if not any(v.verifier == policy.log for v in verified):
        raise LogFailure(
            f"the log's checkpoint is not signed by the log's key {policy.log.vkey()} "
            "(the one the TUF root names)"
        )
    cosigned = {v.verifier for v in verified if v.verifier in policy.witnesses}
    if len(cosigned) < policy.witness_threshold:
        names = ", ".join(w.name for w in policy.witnesses)
        raise LogFailure(
            f"the log's checkpoint (size {checkpoint.size}) is cosigned by {len(cosigned)} of "
            f"the root's witnesses ({names}), fewer than the {policy.witness_threshold} "
            "the root asks for"
        )
    return Signed(checkpoint, data)


def tile_reader(fetch: Fetch) -> TileReader:
    """A ``TileReader`` over ``fetch``, each tile read once and bounded by its width."""
    cache: dict[Tile, bytes] = {}

    def read(tile: Tile) -> bytes:
        if tile not in cache:
            cache[tile] = fetch(tile.path(), tile.width * HASH_SIZE)
        return cache[tile]

    return read


def check_growth(saved: Signed, new: Signed, read_tile: TileReader) -> None:
    """Check that ``new`` extends ``saved``: the same log grown, never shrunk or forked.

    The consistency proof and the new tree's prefix of the saved size are computed from
    the new tree's tiles, and the proof is checked from that prefix to the new root: when
    it verifies, the tiles are the new tree's, and a prefix other than the saved root is a
    fork that anyone can check from the evidence alone.

    Raises:
        LogFailure: with ``Evidence`` for a smaller tree (a rollback), another root of the
            same size, or a new tree whose prefix is not the saved tree (a fork); without,
            for tiles that are malformed or do not lead to ``new``'s root.
    """
    old, cur = saved.checkpoint, new.checkpoint
    if cur.size < old.size:
        reason = f"rollback: the log shows size {cur.size}, smaller than the saved {old.size}"
        raise LogFailure(reason, Evidence(reason, saved, new))
    if cur.size == old.size and cur.root_hash != old.root_hash:
        reason = f"fork: two different trees of the same size {cur.size}"
        raise LogFailure(reason, Evidence(reason, saved, new))
    if old.size in (0, cur.size):
        return
    try:
        proof = tiles.consistency_proof(old.size, cur.size, read_tile)
        prefix = tiles.range_hasher(cur.size, read_tile)(0, old.size)
        hashing.verify_consistency(old.size, cur.size, prefix, cur.root_hash, proof)
    except (ProofError, TileError) as e:
        raise LogFailure(
            f"the log's tiles do not match its checkpoint of size {cur.size} (altered or "
            f"truncated tiles): {e}"
        ) from e
    if prefix != old.root_hash:
        reason = (
            f"fork: the log's tree of size {cur.size} does not contain the saved tree of size "
            f"{old.size} (its first {old.size} leaves hash to {prefix.hex()}, not "
            f"{old.root_hash.hex()})"
        )
        raise LogFailure(reason, Evidence(reason, saved, new, tuple(proof), prefix))


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
        LogFailure: a bundle that is malformed, does not match its hash tile, or whose leaf
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
        raise LogFailure(f"the log's tiles are malformed: {e}") from e
    if root != checkpoint.root_hash:
        raise LogFailure(
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
            raise LogFailure(
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

    signed: Signed
    start: int
    entries: tuple[bytes, ...]

    @property
    def position(self) -> int:
        """The leaves read so far, this round's included."""
        return self.start + len(self.entries)


def follow(
    policy: LogPolicy, saved: Signed | None, position: int, fetch: Fetch, max_entries: int
) -> Progress:
    """Verify the log's current checkpoint against ``policy`` and the ``saved`` one, then
    read at most ``max_entries`` entries from ``position`` (the leaves read in earlier
    rounds), each proven part of the new tree.

    Raises:
        LogFailure: anything did not verify (see the module's docstring).
    """
    if saved is not None and saved.checkpoint.origin != policy.origin:
        raise LogFailure(
            f"the saved checkpoint is of the log {saved.checkpoint.origin!r}, the root names "
            f"the log {policy.origin!r}: give another --state file to follow it"
        )
    new = verify_checkpoint(fetch(CHECKPOINT_PATH, notes.MAX_NOTE_BYTES), policy)
    read_tile = tile_reader(fetch)
    if saved is not None:
        check_growth(saved, new, read_tile)
    end = min(new.checkpoint.size, position + max_entries)
    if end <= position:
        return Progress(new, position, ())
    found = read_entries(position, end, new.checkpoint, fetch, read_tile)
    return Progress(new, position, tuple(found))
