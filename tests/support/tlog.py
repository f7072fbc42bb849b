"""Reading a published transparency log as a client would, with ``tufpi.tlog`` only: the
checkpoint verified against the log key a TUF root names, every tile of its tree present
and giving its root, and a file target's lookup entry included (for the e2e and kill-point
tests; the real client checks are ``tufpi.client``'s)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tufpi.tlog import checkpoints, entries, hashing, tiles
from tufpi.tlog.policy import policy_of
from tufpi.transparency import layout

# Reads a file below /tlog/ ("checkpoint", "tile/0/000.p/3", ...); FileNotFoundError if absent.
Read = Callable[[str], bytes]


def over_http(url: str) -> Read:
    """Read the log of the index at ``url`` (ending in a slash) over HTTP."""

    def read(rest: str) -> bytes:
        answer = httpx.get(f"{url}tlog/{rest}", timeout=10)
        if answer.status_code == 404:
            raise FileNotFoundError(rest)
        answer.raise_for_status()
        return answer.content

    return read


def from_storage(files: Path) -> Read:
    """Read the log from a storage directory (``<data dir>/files``)."""
    return lambda rest: (files / "tlog" / rest).read_bytes()


@dataclasses.dataclass(frozen=True)
class Verified:
    """A checkpoint whose log signature verified, and its tree's leaves read from tiles."""

    checkpoint: checkpoints.Checkpoint
    leaves: list[bytes]

    def parsed(self) -> list[entries.Entry]:
        return [entries.parse_entry(leaf) for leaf in self.leaves]


def verify(read: Read, root_signed: dict[str, Any]) -> Verified:
    """Verify the checkpoint against the root's log key, then every tile of its tree: each
    present, the tiles giving the checkpoint's root, each entry bundle hashing to its
    level-0 tile. Returns the checkpoint and every leaf."""
    policy = policy_of(root_signed)
    assert policy is not None, "the root names no log"
    checkpoint, _ = checkpoints.open_checkpoint(read("checkpoint"), [policy.log], policy.origin)

    def read_tile(tile: tiles.Tile) -> bytes:
        return read(tile.path())

    assert tiles.root_hash(checkpoint.size, read_tile) == checkpoint.root_hash
    leaves: list[bytes] = []
    for tile in tiles.tiles_for_size(checkpoint.size):
        content = read_tile(tile)
        if tile.level == 0:
            bundle = tiles.parse_bundle(tile, read(tile.entries_path()))
            assert b"".join(hashing.leaf_hash(e) for e in bundle) == content, tile.path()
            leaves += bundle
    assert len(leaves) == checkpoint.size
    return Verified(checkpoint, leaves)


def included_file(read: Read, verified: Verified, path: str, sha256: str) -> int:
    """The leaf index of the ``file`` entry of the target ``path`` (from its lookup file),
    checked against the target and proved included in the verified checkpoint."""
    index, entry = layout.parse_lookup(read(f"lookup/{layout.lookup_name(path)}"))
    parsed = entries.parse_entry(entry)
    assert isinstance(parsed, entries.FileAdded), parsed
    assert (parsed.path, parsed.sha256) == (path, sha256)
    size = verified.checkpoint.size
    assert index < size, f"{path}'s entry {index} is not in the checkpoint of {size}"
    proof = tiles.inclusion_proof(index, size, lambda tile: read(tile.path()))
    hashing.verify_inclusion(
        index, size, hashing.leaf_hash(entry), proof, verified.checkpoint.root_hash
    )
    return index


def root_signed(read_tuf: Callable[[str], bytes]) -> dict[str, Any]:
    """The ``signed`` object of the newest root, as JSON (``read_tuf("root.json")``)."""
    signed: dict[str, Any] = json.loads(read_tuf("root.json"))["signed"]
    return signed
