"""The sequencer: append the pending entries to the log, then publish the log to storage
as C2SP tiles, lookup files and a signed checkpoint (issue 15; docs/transparency.md).

It runs in the elected signer only (and in the commands that hold its election). The
database is the truth: the leaves are committed first, in one transaction; everything in
storage is derived from them and written idempotently; the checkpoint comes last, once
every tile and lookup it covers is durable. A crash anywhere leaves storage showing an
older checkpoint whose tiles are all present, and the next run finishes the rest. A run
reads only what is new since the published checkpoint (and the partial tiles it extends).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from tufpi.clock import Clock
from tufpi.storage import Storage
from tufpi.tlog import hashing, notes, tiles
from tufpi.tlog.checkpoints import Checkpoint, parse_checkpoint
from tufpi.tlog.entries import Published, encode_entry
from tufpi.transparency import layout, leaves
from tufpi.transparency.publications import TufFiles, publication_entry, timestamp_versions

log = logging.getLogger("tufpi.transparency")
# Up to this many files a run fsyncs each one; more are made durable by one storage sync.
_FSYNC_EACH_UP_TO = 64

# Named points of a run, for crash tests ("log-sequenced", "log-tiles", "log-checkpoint").
Passed = Callable[[str], None]
# (signed note, its checkpoint, consistency(old, new) -> proof) -> cosignatures to append.
Consistency = Callable[[int, int], list[bytes]]
Cosign = Callable[[bytes, Checkpoint, Consistency], list[notes.Signature]]


class LogError(Exception):
    """The log cannot be published consistently; nothing new is signed."""


@dataclasses.dataclass(frozen=True)
class LogKey:
    """The key the log signs checkpoints with, and its name (the checkpoint's origin)."""

    origin: str
    private_key: Ed25519PrivateKey


@dataclasses.dataclass(frozen=True)
class SequenceResult:
    """What one run did: leaves appended, the log's size, whether a checkpoint was signed."""

    appended: int
    size: int
    signed: bool


def _nothing(_name: str) -> None:
    pass


class Sequencer:
    """Appends pending entries to the log and publishes it; one active instance per log."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        storage: Storage,
        key: LogKey,
        tuf: TufFiles,
        clock: Clock,
        passed: Passed = _nothing,
        cosign: Cosign | None = None,
    ) -> None:
        """``write_sessions`` take the write lock at once (``BEGIN IMMEDIATE`` on SQLite);
        ``sessions`` only read (a run with nothing to append takes no lock)."""
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.storage = storage
        self.key = key
        self.tuf = tuf
        self.clock = clock
        self.passed = passed
        self.cosign = cosign
        self._logged_version: int | None = None  # newest publication known to be logged

    def run(self) -> SequenceResult:
        """Log the current publication if it is not yet, append every pending entry, and
        bring tiles, lookups and the checkpoint up to the database's leaves.

        Raises:
            LogError: the published checkpoint is larger than the log, or does not match
                its leaves and tiles (nothing is signed then).
        """
        published = self._published()
        appended, size = self._sequence()
        if appended:
            self.passed("log-sequenced")
        old_size = published.size if published is not None else 0
        if size < old_size:
            raise LogError(
                f"the published checkpoint names {old_size} leaves but the database holds "
                f"only {size}: refusing to sign a smaller log (was the database restored?)"
            )
        if size == old_size:
            return SequenceResult(appended, size, signed=False)
        self._publish(published, size)
        return SequenceResult(appended, size, signed=True)

    def _published(self) -> Checkpoint | None:
        """The checkpoint in storage (its size and root; we check the root against the
        leaves and tiles before extending it)."""
        try:
            with self.storage.open(layout.CHECKPOINT_KEY) as f:
                data = f.read()
        except FileNotFoundError:
            return None
        try:
            return parse_checkpoint(notes.parse_note(data).text)
        except notes.NoteError as e:
            raise LogError(f"the published checkpoint is unreadable: {e}") from e

    def _sequence(self) -> tuple[int, int]:
        """Append the pending entries (and the current publication, if not logged yet) in
        one transaction; returns (leaves appended, the log's size)."""
        with self.sessions() as session:
            publication = self._unlogged_publication(session)
            if publication is None and not leaves.any_pending(session):
                return 0, leaves.size(session)
        extra = [encode_entry(publication)] if publication is not None else []
        with self.write_sessions.begin() as session:
            leaves.snapshot_view(session)
            size = leaves.size(session)
            appended = leaves.append(session, size, extra)
        if publication is not None:
            self._logged_version = publication.timestamp_version
        return appended, size + appended

    def _unlogged_publication(self, session: Session) -> Published | None:
        """The entry of the publication timestamp.json shows, if the log lacks it (the
        snapshot is read only then: at 16,384 bins it is over a megabyte)."""
        try:
            timestamp = self.tuf.timestamp()
        except FileNotFoundError:
            return None
        try:
            version, snapshot_version = timestamp_versions(timestamp)
        except ValueError as e:
            raise LogError(str(e)) from e
        if self._logged_version is None:
            self._logged_version = leaves.newest_publication(session) or 0
        if self._logged_version >= version:
            return None
        snapshot = self.tuf.snapshot(snapshot_version)
        return publication_entry(timestamp, snapshot, self.clock())

    def _publish(self, published: Checkpoint | None, size: int) -> None:
        """Write the tiles and lookups from the published size to ``size``, then sign and
        write the checkpoint."""
        old_size = published.size if published is not None else 0
        base = old_size - old_size % tiles.TILE_WIDTH
        with self.sessions() as session:
            new = leaves.read(session, base, size)
        hashes = [hashing.leaf_hash(leaf.entry) for leaf in new]
        old_level0 = b"".join(hashes[: old_size - base])

        kept: dict[tiles.Tile, bytes] = {}

        def stored(tile: tiles.Tile) -> bytes:
            # Durable before the published checkpoint named them; a tile (its width is part
            # of its name) never changes, so each is read once.
            if tile not in kept:
                kept[tile] = self._read(layout.tile_key(tile))
            return kept[tile]

        def read_old(tile: tiles.Tile) -> bytes:
            # The old tree's partial level-0 tile comes from the database's leaves.
            return old_level0 if tile.level == 0 and tile.partial else stored(tile)

        if published is not None and tiles.root_hash(old_size, read_old) != published.root_hash:
            raise LogError(
                f"the published checkpoint (size {old_size}) does not match the log's leaves "
                "and tiles: refusing to sign a checkpoint inconsistent with it"
            )
        written = tiles.tiles_after_append(old_size, hashes[old_size - base :], read_old)

        def read_new(tile: tiles.Tile) -> bytes:
            found = written.get(tile)
            return found if found is not None else stored(tile)

        files = dict(_tile_files(written, new, base))
        files.update(_lookup_files(new, old_size))
        self._write_durably(files)
        self.passed("log-tiles")
        checkpoint = Checkpoint(self.key.origin, size, tiles.root_hash(size, read_new))
        self.storage.put_bytes(layout.CHECKPOINT_KEY, self._sign(checkpoint, read_new))
        self.passed("log-checkpoint")
        log.info("log: checkpoint %d signed (%d files written)", size, len(files))

    def _read(self, key: str) -> bytes:
        try:
            with self.storage.open(key) as f:
                return f.read()
        except FileNotFoundError as e:
            raise LogError(f"the log's {key} is missing from storage") from e

    def _write_durably(self, files: dict[str, bytes]) -> None:
        each = len(files) <= _FSYNC_EACH_UP_TO
        for key, data in files.items():
            self.storage.put_bytes(key, data, durable=each)
        if not each:
            self.storage.sync()

    def _sign(self, checkpoint: Checkpoint, read_tile: tiles.TileReader) -> bytes:
        """The signed note of ``checkpoint``, with the witnesses' cosignatures if any."""
        text = checkpoint.text()
        own = notes.sign(text, self.key.origin, self.key.private_key)
        signed = notes.Note(text, (own,)).encode()
        if self.cosign is None:
            return signed

        def consistency(old: int, new: int) -> list[bytes]:
            return tiles.consistency_proof(old, new, read_tile)

        extra = self.cosign(signed, checkpoint, consistency)
        return notes.Note(text, (own, *extra)).encode() if extra else signed


def _tile_files(
    written: dict[tiles.Tile, bytes], new: list[leaves.Leaf], base: int
) -> Iterable[tuple[str, bytes]]:
    """Each tile's hashes, and each level-0 tile's entry bundle (from the leaves read, the
    first of which is leaf ``base``)."""
    for tile, content in written.items():
        yield layout.tile_key(tile), content
        if tile.level == 0:
            start, end = tile.leaf_range()
            bundle = [leaf.entry for leaf in new[start - base : end - base]]
            yield layout.bundle_key(tile), tiles.encode_bundle(bundle)


def _lookup_files(new: list[leaves.Leaf], old_size: int) -> Iterable[tuple[str, bytes]]:
    """The lookup file of each ``file`` entry appended since ``old_size``."""
    for leaf in new:
        if leaf.path is not None and leaf.seq >= old_size:
            yield layout.lookup_key(leaf.path), layout.lookup_content(leaf.seq, leaf.entry)
