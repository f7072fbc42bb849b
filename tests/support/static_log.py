"""A transparency log as static files, built with ``tufpi.tlog`` (what the index's sequencer
writes to storage): ``tlog/checkpoint``, the hash tiles and the entry bundles of a
directory a static HTTP server serves; and a minimal TUF repository beside it whose root
names the log (``x-tufpi-tlog``), for ``tufpi monitor`` to bootstrap from."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from tufpi.client.log_checks import LogRefusal
from tufpi.client.monitor_log import Fetch
from tufpi.tlog import entries, hashing, notes, tiles
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.entries import Entry, FileAdded, Published
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy

ORIGIN = "index.example.org/tlog"
WHEN = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def file_entry(
    project: str,
    filename: str,
    account: str | None = "alice",
    token: int | None = 1,
    via: str = "upload",
    when: dt.datetime = WHEN,
) -> FileAdded:
    """A ``file`` entry of ``project`` (its path and hash made up from the filename)."""
    digest = hashlib.sha256(filename.encode()).hexdigest()
    return FileAdded(
        project,
        "1.0",
        filename,
        f"packages/{digest[:2]}/{filename}",
        digest,
        100,
        when,
        via,
        account,
        token,
    )


def publication(version: int, when: dt.datetime = WHEN, seed: str = "") -> Published:
    """A ``publication`` entry of timestamp ``version`` (hashes made up from it)."""
    digest = hashlib.sha256(f"{version}{seed}".encode()).hexdigest()
    return Published(version, digest, version, digest, when)


class StaticLog:
    """A log whose files live under ``<root>/tlog/``; ``append`` grows it."""

    def __init__(self, root: Path, witnesses: int = 0, threshold: int = 0) -> None:
        self.root = root
        self.dir = root / "tlog"
        self.key = Ed25519PrivateKey.generate()
        self.witness_keys = [
            (f"witness-{n}.example", Ed25519PrivateKey.generate()) for n in range(witnesses)
        ]
        self.threshold = threshold
        self.leaves: list[bytes] = []

    @property
    def policy(self) -> LogPolicy:
        """The policy a root pins for this log."""
        return LogPolicy(
            notes.verifier_for(ORIGIN, self.key, notes.ED25519),
            tuple(notes.verifier_for(n, k, notes.COSIGNATURE_V1) for n, k in self.witness_keys),
            self.threshold,
        )

    def append(self, *added: Entry, cosigners: int | None = None) -> bytes:
        """Append ``added``, write every tile and bundle of the new tree and a checkpoint
        cosigned by the first ``cosigners`` witnesses (default: all); its bytes."""
        self.leaves += [entries.encode_entry(entry) for entry in added]
        self.write_tiles(self.leaves)
        return self.write_checkpoint(self.leaves, cosigners)

    def write_tiles(self, leaves: list[bytes]) -> None:
        """The tiles and entry bundles of the tree of ``leaves``."""
        range_hash = hashing.list_hasher([hashing.leaf_hash(leaf) for leaf in leaves])
        for tile in tiles.tiles_for_size(len(leaves)):
            self.write(tile.path(), tiles.tile_content(tile, range_hash))
            if tile.level == 0:
                start, end = tile.leaf_range()
                self.write(tile.entries_path(), tiles.encode_bundle(leaves[start:end]))

    def signed_checkpoint(self, leaves: list[bytes], cosigners: int | None = None) -> bytes:
        """The signed (and cosigned) checkpoint of the tree of ``leaves``."""
        root = hashing.root_hash([hashing.leaf_hash(leaf) for leaf in leaves])
        text = Checkpoint(ORIGIN, len(leaves), root).text()
        signatures = [notes.sign(text, ORIGIN, self.key)]
        chosen = self.witness_keys[: len(self.witness_keys) if cosigners is None else cosigners]
        signatures += [notes.cosign(text, name, key, 1_800_000_000) for name, key in chosen]
        return notes.Note(text, tuple(signatures)).encode()

    def write_checkpoint(self, leaves: list[bytes], cosigners: int | None = None) -> bytes:
        """Serve the checkpoint of ``leaves``; its bytes."""
        data = self.signed_checkpoint(leaves, cosigners)
        self.write("checkpoint", data)
        return data

    def write(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``tlog/<path>``."""
        target = self.dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read(self, path: str) -> bytes:
        """The bytes served at ``tlog/<path>``."""
        return (self.dir / path).read_bytes()

    def fetch(self, asked: list[str] | None = None) -> Fetch:
        """The monitor's ``Fetch`` over the files (what its HTTP reads return), bounded as
        they are; each path read is appended to ``asked``."""

        def fetch(path: str, max_bytes: int) -> bytes:
            if asked is not None:
                asked.append(path)
            try:
                data = self.read(path)
            except FileNotFoundError:
                raise LogRefusal(f"{path}: HTTP 404") from None
            if len(data) > max_bytes:
                raise LogRefusal(f"{path}: over {max_bytes} bytes")
            return data

        return fetch


def write_tuf_repository(root: Path, policy: LogPolicy | None) -> bytes:
    """A minimal TUF repository under ``<root>/tuf/`` (one Ed25519 key signs every role,
    no consistent snapshots) whose root names ``policy``; the root's bytes."""
    signer = CryptoSigner.generate_ed25519()
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=7)
    key = signer.public_key
    roles = {name: Role([key.keyid], 1) for name in ("root", "timestamp", "snapshot", "targets")}
    fields = {ROOT_FIELD: policy.to_field()} if policy is not None else {}
    signed_root = Root(
        expires=expires,
        keys={key.keyid: key},
        roles=roles,
        consistent_snapshot=False,
        unrecognized_fields=fields,
    )
    made: dict[str, Metadata] = {
        "root": Metadata(signed_root),
        "targets": Metadata(Targets(expires=expires)),
        "snapshot": Metadata(Snapshot(expires=expires, meta={"targets.json": MetaFile(1)})),
        "timestamp": Metadata(Timestamp(expires=expires, snapshot_meta=MetaFile(1))),
    }
    tuf = root / "tuf"
    tuf.mkdir(parents=True, exist_ok=True)
    for name, metadata in made.items():
        metadata.sign(signer)
        data = metadata.to_bytes(JSONSerializer())
        (tuf / f"{name}.json").write_bytes(data)
        if name == "root":
            (tuf / "1.root.json").write_bytes(data)
    return (tuf / "1.root.json").read_bytes()
