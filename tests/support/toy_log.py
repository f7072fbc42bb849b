"""A transparency log built in memory with ``tufpi.tlog``, for client tests: entries,
tiles (every tile of every size it was published at, as a log's storage keeps them),
lookups and signed, cosigned checkpoints."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.tlog import checkpoints, entries, hashing, notes, tiles
from tufpi.tlog.policy import LogPolicy
from tufpi.tlog.tiles import Tile

ORIGIN = "index.example/tlog"
WHEN = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def file_entry(path: str, sha256: str, size: int) -> bytes:
    """The ``file`` entry of an uploaded target."""
    filename = path.rpartition("/")[2]
    return entries.encode_entry(
        entries.FileAdded(
            project="demo",
            version="1.0",
            filename=filename,
            path=path,
            sha256=sha256,
            size=size,
            time=WHEN,
            via="upload",
            account="alice",
            token=1,
        )
    )


def yank_entry() -> bytes:
    return entries.encode_entry(entries.Yanked("demo", "1.0", True, WHEN, reason="broken"))


def target_path(number: int) -> tuple[str, str, int]:
    """A file target's path, sha256 and size, made up from ``number``."""
    sha256 = hashlib.sha256(str(number).encode()).hexdigest()
    path = f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/demo-{number}.tar.gz"
    return path, sha256, 1000 + number


class ToyLog:
    """A log, its key and its witnesses' keys."""

    def __init__(self, origin: str = ORIGIN, witnesses: int = 2) -> None:
        self.origin = origin
        self.key = Ed25519PrivateKey.generate()
        self.witness_keys = [
            (f"witness{n}.example", Ed25519PrivateKey.generate()) for n in range(witnesses)
        ]
        self.leaves: list[bytes] = []
        self.store: dict[Tile, bytes] = {}

    # ----- growing -----

    def append(self, entry: bytes) -> int:
        """Append an entry; its index. Call ``publish`` to write the tiles."""
        self.leaves.append(entry)
        return len(self.leaves) - 1

    def add_files(self, first: int, count: int) -> None:
        for number in range(first, first + count):
            self.append(file_entry(*target_path(number)))

    def publish(self) -> None:
        """Write the tiles of the current size (full ones, and this size's partial ones)."""
        size = len(self.leaves)
        range_hash = hashing.list_hasher([hashing.leaf_hash(e) for e in self.leaves])
        for tile in tiles.tiles_for_size(size):
            self.store[tile] = tiles.tile_content(tile, range_hash)

    # ----- reading -----

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        return hashing.root_hash([hashing.leaf_hash(e) for e in self.leaves[:size]])

    def read_tile(self, tile: Tile) -> bytes:
        return self.store[tile]

    def lookup(self, index: int) -> bytes:
        return f"{index}\n".encode() + self.leaves[index]

    def policy(self, threshold: int = 0) -> LogPolicy:
        witnesses = tuple(
            notes.verifier_for(name, key, notes.COSIGNATURE_V1) for name, key in self.witness_keys
        )
        log = notes.verifier_for(self.origin, self.key, notes.ED25519)
        return LogPolicy(log, witnesses, threshold)

    def checkpoint(
        self,
        size: int | None = None,
        *,
        root: bytes | None = None,
        cosigners: tuple[int, ...] = (0, 1),
        key: Ed25519PrivateKey | None = None,
        origin: str | None = None,
        extra: tuple[notes.Signature, ...] = (),
    ) -> bytes:
        """A signed checkpoint (default: the current size, its true root, cosigned by
        every witness)."""
        size = len(self.leaves) if size is None else size
        text = checkpoints.Checkpoint(origin or self.origin, size, root or self.root(size)).text()
        signatures = [notes.sign(text, origin or self.origin, key or self.key)]
        for number in cosigners:
            name, witness = self.witness_keys[number]
            signatures.append(notes.cosign(text, name, witness, 1_765_000_000 + number))
        return notes.Note(text, (*signatures, *extra)).encode()
