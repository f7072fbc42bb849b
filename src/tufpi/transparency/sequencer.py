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
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

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
# Threads writing many files at once.
_WRITERS = 4
# Leaves published per step (and checkpoint) of a big append: 256 full level-0 tiles.
_STEP = 1 << 16
# A checkpoint some witnesses did not cosign is offered to them again after this many
# seconds, doubling up to the maximum (a witness down costs a bounded wait each time).
_COSIGN_RETRY_FIRST = 2.0
_COSIGN_RETRY_MAX = 300.0

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


class CosignRetry:
    """When to offer the published checkpoint to the witnesses again, if fewer than all
    cosigned it: clients that require k cosignatures refuse the files only that checkpoint
    covers, so a witness back up must not wait for the next upload. Backs off while they
    stay down."""

    def __init__(
        self, first: float = _COSIGN_RETRY_FIRST, maximum: float = _COSIGN_RETRY_MAX
    ) -> None:
        self.first = min(first, maximum)
        self.maximum = maximum
        self.wait = first
        self.next_at: float | None = None  # None: every witness cosigned the last one

    def missing(self, now: float) -> None:
        """The checkpoint just written lacks cosignatures: retry later."""
        if self.next_at is not None:
            self.wait = min(self.wait * 2, self.maximum)
        self.next_at = now + self.wait

    def complete(self) -> None:
        """Every witness cosigned the checkpoint just written."""
        self.next_at = None
        self.wait = self.first

    def due(self, now: float) -> bool:
        """Whether to offer the published checkpoint again now."""
        return self.next_at is not None and now >= self.next_at


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
        step: int = _STEP,
        cosigners: int = 0,
        retry: CosignRetry | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``write_sessions`` take the write lock at once (``BEGIN IMMEDIATE`` on SQLite);
        ``sessions`` only read (a run with nothing to append takes no lock). ``step``:
        the leaves published per checkpoint of a big append. ``cosigners``: the witnesses
        ``cosign`` asks; a checkpoint with fewer cosignatures is offered again
        (``CosignRetry``) until it has them all or a newer checkpoint replaces it."""
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.storage = storage
        self.key = key
        self.tuf = tuf
        self.clock = clock
        self.passed = passed
        self.cosign = cosign
        self.step = step
        self.cosigners = cosigners
        self.monotonic = monotonic
        self.retry = retry or CosignRetry()
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
            if published is not None and self.retry.due(self.monotonic()):
                self._cosign_again(published)
            return SequenceResult(appended, size, signed=False)
        # A big append (an import's, back-signing's) is published in steps, each with its
        # checkpoint: memory stays bounded, and a crash keeps the steps done. The
        # witnesses are asked to cosign the last one only.
        while old_size < size:
            end = min(size, old_size + self.step)
            published = self._publish(published, end, final=end == size)
            old_size = end
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

    def _publish(self, published: Checkpoint | None, size: int, final: bool) -> Checkpoint:
        """Write the tiles and lookups from the published size to ``size``, then sign
        (with the witnesses' cosignatures if ``final``) and write the checkpoint."""
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
        note = self._sign(checkpoint, read_new, final)
        self.storage.put_bytes(layout.CHECKPOINT_KEY, note)
        self.passed("log-checkpoint")
        log.info("log: checkpoint %d signed (%d files written)", size, len(files))
        return checkpoint

    def _read(self, key: str) -> bytes:
        try:
            with self.storage.open(key) as f:
                return f.read()
        except FileNotFoundError as e:
            raise LogError(f"the log's {key} is missing from storage") from e

    def _write_durably(self, files: dict[str, bytes]) -> None:
        """Write ``files``; all of them are durable on return. A few are fsynced each;
        many (a lookup per file of an import) are written by a few threads, whose file
        creations overlap, and made durable by one sync."""
        if len(files) <= _FSYNC_EACH_UP_TO:
            for key, data in files.items():
                self.storage.put_bytes(key, data)
            return

        def put(item: tuple[str, bytes]) -> None:
            self.storage.put_bytes(item[0], item[1], durable=False)

        with ThreadPoolExecutor(_WRITERS, thread_name_prefix="tlog-write") as pool:
            for _ in pool.map(put, files.items()):
                pass  # an error raises here
        self.storage.sync()

    def _sign(self, checkpoint: Checkpoint, read_tile: tiles.TileReader, cosigned: bool) -> bytes:
        """The signed note of ``checkpoint``, with the witnesses' cosignatures if
        ``cosigned`` and a cosigning function was given."""
        text = checkpoint.text()
        own = notes.sign(text, self.key.origin, self.key.private_key)
        signed = notes.Note(text, (own,)).encode()
        if self.cosign is None or not cosigned:
            return signed

        def consistency(old: int, new: int) -> list[bytes]:
            return tiles.consistency_proof(old, new, read_tile)

        extra = self.cosign(signed, checkpoint, consistency)
        if len(extra) < self.cosigners:
            self.retry.missing(self.monotonic())
        else:
            self.retry.complete()
        return notes.Note(text, (own, *extra)).encode() if extra else signed

    def _cosign_again(self, published: Checkpoint) -> None:
        """Offer the published checkpoint (no newer one was needed) to the witnesses
        again, and publish it with the cosignatures it now has, if more."""
        kept = notes.parse_note(self._read(layout.CHECKPOINT_KEY))
        if kept.text != published.text():
            return
        note = self._sign(published, lambda tile: self._read(layout.tile_key(tile)), True)
        if len(notes.parse_note(note).signatures) > len(kept.signatures):
            self.storage.put_bytes(layout.CHECKPOINT_KEY, note)
            log.info("log: checkpoint %d cosigned by more witnesses", published.size)


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
