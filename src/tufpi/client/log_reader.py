"""The verifying client's reader of the index's transparency log: the I/O around
``log_checks`` (which decides).

For each file target the signed metadata lists, before the file is handed out,
``LogReader.check_file`` reads the file's lookup (``tlog/lookup/<sha256 of the path>``),
takes a checkpoint that covers its entry (the kept one if it does; otherwise the index's
current ``tlog/checkpoint``, verified and checked consistent with the kept one, then kept),
and checks the entry's inclusion from the tiles. Every read is relative to the index URL,
through the client's one bounded fetcher (deadline, size cap) and counted (``LogStats``).

A file once proven stays proven for the process (the checkpoints it keeps only grow
consistently, so its inclusion holds in every later one): a second request costs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from tuf.api import exceptions

from tufpi.client import log_cache
from tufpi.client.log_cache import KeptCheckpointError
from tufpi.client.log_checks import (
    CHECKPOINT_MAX_LENGTH,
    LOOKUP_MAX_LENGTH,
    FileTarget,
    LogFork,
    LogRefusal,
    SignedCheckpoint,
    check_entry,
    check_growth,
    check_inclusion,
    evidence_text,
    open_signed_checkpoint,
    parse_lookup,
)
from tufpi.client.refusals import Refusal, explain
from tufpi.tlog import notes
from tufpi.tlog.hashing import HASH_SIZE
from tufpi.tlog.policy import LogPolicy
from tufpi.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, Tile

log = logging.getLogger("tufpi.client")

# Reads a URL, at most that many bytes: the client's ``BoundedFetcher.get`` (deadline, size
# cap, decoded size), raising python-tuf's ``DownloadError``s.
Get = Callable[[str, int], bytes]


@dataclasses.dataclass
class LogStats:
    """What the client read for the log's proofs (a benchmark's bytes per install)."""

    files_checked: int = 0
    bytes_fetched: int = 0
    checkpoints_fetched: int = 0
    lookups_fetched: int = 0
    tiles_fetched: int = 0
    tiles_from_cache: int = 0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def count(self, what: str, size: int = 0) -> None:
        """Add one to the counter ``what`` and ``size`` bytes fetched."""
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)
            self.bytes_fetched += size

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"transparency log: files proven: {self.files_checked}, bytes fetched for proofs: "
            f"{self.bytes_fetched} (checkpoints: {self.checkpoints_fetched}, lookups: "
            f"{self.lookups_fetched}, tiles: {self.tiles_fetched}; tiles from the cache: "
            f"{self.tiles_from_cache})"
        )


class _Tiles:
    """Tiles of the log, from the cache (full ones, if ``use_cache``) or the index."""

    def __init__(self, reader: LogReader, use_cache: bool) -> None:
        self.reader = reader
        self.use_cache = use_cache
        self.from_cache = False

    def __call__(self, tile: Tile) -> bytes:
        reader = self.reader
        if self.use_cache:
            data = reader.partial_tiles.get(tile) or log_cache.cached_tile(reader.log_dir, tile)
            if data is not None:
                self.from_cache = True
                reader.stats.count("tiles_from_cache")
                return data
        data = reader.fetch(tile.path(), tile.width * HASH_SIZE, "tiles_fetched")
        if tile.partial:
            reader.partial_tiles[tile] = data
        else:
            log_cache.keep_tile(reader.log_dir, tile, data)
        return data


class LogReader:
    """The log one trusted root pins, as read by one client (thread-safe)."""

    def __init__(
        self,
        policy: LogPolicy,
        get: Get,
        log_url: str,
        log_dir: Path,
        *,
        stats: LogStats | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """``log_url`` is where the index serves the log (``<index>/tlog/``); ``log_dir``
        where the client keeps its checkpoint, tiles and fork evidence."""
        self.policy = policy
        self.get = get
        self.log_url = log_url if log_url.endswith("/") else log_url + "/"
        self.log_dir = log_dir
        self.stats = stats or LogStats()
        self._now = now
        self._lock = threading.Lock()  # the state below, held only briefly
        self._advancing = threading.Lock()  # held while a new checkpoint is read and kept
        self._current: SignedCheckpoint | None = None
        self._loaded = False  # whether the kept checkpoint was read from disk
        self._proven: set[FileTarget] = set()
        # The partial tiles of the newest checkpoint, in memory (a partial tile's content
        # never changes for its width, but the next checkpoint has other ones).
        self.partial_tiles: dict[Tile, bytes] = {}

    # ----- reads -----

    def fetch(self, rest: str, max_length: int, counter: str) -> bytes:
        """``<log_url><rest>``, through the fetcher, counted.

        Raises:
            Refusal: it could not be read (in words naming it).
        """
        url = self.log_url + rest
        try:
            data = self.get(url, max_length)
        except exceptions.DownloadError as e:
            raise explain(e, f"the transparency log's {rest}") from e
        self.stats.count(counter, len(data))
        return data

    # ----- files -----

    def check_file(self, target: FileTarget) -> None:
        """Refuse ``target`` unless the log proves its entry (see the module's docstring).

        Raises:
            Refusal: the log does not vouch for it; the message says why (and, for a fork,
                where the evidence was saved).
        """
        with self._lock:
            if target in self._proven:
                return
        index, entry = self._entry(target)
        signed = self._checkpoint_covering(index)
        try:
            self._prove(target, index, entry, signed)
        except LogRefusal as e:
            raise Refusal(f"transparency log: {e.message}") from e
        with self._lock:
            self._proven.add(target)
        self.stats.count("files_checked")
        log.info(
            "transparency log: %s is entry %d of the verified checkpoint of size %d (%s)",
            target.path,
            index,
            signed.size,
            self.stats.summary().removeprefix("transparency log: "),
        )

    def _entry(self, target: FileTarget) -> tuple[int, bytes]:
        name = hashlib.sha256(target.path.encode()).hexdigest()
        try:
            data = self.fetch(f"lookup/{name}", LOOKUP_MAX_LENGTH, "lookups_fetched")
        except Refusal as e:
            cause = e.__cause__
            if isinstance(cause, exceptions.DownloadHTTPError) and cause.status_code == 404:
                raise Refusal(
                    f"transparency log: {target.path} is not in the index's log (no entry "
                    f"at {self.log_url}lookup/{name}): the index signed a file it did not log"
                ) from e
            raise
        try:
            index, entry = parse_lookup(target.path, data)
            check_entry(target, index, entry)
        except LogRefusal as e:
            raise Refusal(f"transparency log: {e.message}") from e
        return index, entry

    def _prove(
        self, target: FileTarget, index: int, entry: bytes, signed: SignedCheckpoint
    ) -> None:
        """The inclusion proof, from cached tiles; once more from the index's own tiles if
        that failed with a cached one (a cache altered on disk must not refuse a file)."""
        tiles = _Tiles(self, use_cache=True)
        try:
            check_inclusion(target, index, entry, signed, tiles)
        except LogRefusal:
            if not tiles.from_cache:
                raise
            check_inclusion(target, index, entry, signed, _Tiles(self, use_cache=False))

    # ----- checkpoints -----

    def _checkpoint_covering(self, index: int) -> SignedCheckpoint:
        """The kept checkpoint if it holds leaf ``index``; else the index's current one,
        verified, checked against the kept one, and kept. One thread at a time reads a
        new checkpoint; the others wait for it, and never for a file's proof."""
        current = self._kept()
        if current is not None and index < current.size:
            return current
        with self._advancing:
            current = self._kept()  # another thread may have advanced meanwhile
            if current is not None and index < current.size:
                return current
            data = self.fetch("checkpoint", CHECKPOINT_MAX_LENGTH, "checkpoints_fetched")
            try:
                new = open_signed_checkpoint(self.policy, data, "the log's checkpoint")
            except LogRefusal as e:
                raise Refusal(f"transparency log: {e.message}") from e
            return self._advance(current, new)

    def _kept(self) -> SignedCheckpoint | None:
        """The newest checkpoint kept (read from disk and verified the first time)."""
        with self._lock:
            if not self._loaded:
                self._current = self._load_kept()
                self._loaded = True
            return self._current

    def _check_growth(self, kept: SignedCheckpoint | None, new: SignedCheckpoint) -> None:
        """``check_growth`` from cached tiles; once more from the index's own tiles if that
        failed with a cached one: a tile altered on disk is not a fork."""
        tiles = _Tiles(self, use_cache=True)
        try:
            check_growth(kept, new, tiles)
        except LogRefusal:
            if not tiles.from_cache:
                raise
            check_growth(kept, new, _Tiles(self, use_cache=False))

    def _advance(self, kept: SignedCheckpoint | None, new: SignedCheckpoint) -> SignedCheckpoint:
        """Check ``new`` against ``kept`` and keep it if it is newer; the newest of the two.
        Under ``_advancing``."""
        try:
            self._check_growth(kept, new)
        except LogFork as e:
            raise Refusal(f"transparency log: {e.message}; {self._save_evidence(e)}") from e
        except LogRefusal as e:
            raise Refusal(f"transparency log: {e.message}") from e
        if kept is not None and new.size <= kept.size:
            return kept
        if kept is None:
            log.warning(
                "transparency log: no checkpoint of %s kept yet: trusting its current one "
                "(size %d) as the start of its history, kept in %s",
                self.policy.origin,
                new.size,
                self.log_dir / log_cache.CHECKPOINT_NAME,
            )
        try:
            log_cache.keep_checkpoint(self.log_dir, new.note)
        except OSError as e:
            raise Refusal(
                f"transparency log: cannot keep the checkpoint in {self.log_dir}: {e}"
            ) from e
        with self._lock:
            self._current = new
            self.partial_tiles = {
                tile: data
                for tile, data in list(self.partial_tiles.items())
                if tile.width == _width_at(tile, new.size)
            }
        return new

    def _load_kept(self) -> SignedCheckpoint | None:
        """The kept checkpoint, verified under the log key the root pins now. Under the lock.

        Raises:
            Refusal: something is kept that does not verify (it is how a fork is seen: it is
                never dropped silently).
        """
        path = self.log_dir / log_cache.CHECKPOINT_NAME
        try:
            data = log_cache.read_kept_checkpoint(self.log_dir)
        except KeptCheckpointError as e:
            raise Refusal(f"transparency log: the kept checkpoint is unusable: {e}") from e
        if data is None:
            return None
        if not self._signed_by_log_key(data):
            log.warning(
                "transparency log: the kept checkpoint %s is not signed by the log key the "
                "root now pins (%s): the root rotated the log's key; starting again from "
                "the log's current checkpoint",
                path,
                self.policy.log.vkey(),
            )
            return None
        # The kept one met the witness policy when it was kept; the log's key is what
        # proves it was the log's (the root may have changed its witnesses since).
        unwitnessed = dataclasses.replace(self.policy, witness_threshold=0)
        try:
            return open_signed_checkpoint(unwitnessed, data, f"the kept checkpoint {path}")
        except LogRefusal as e:
            raise Refusal(
                f"transparency log: {e.message}. It is what this client saw of the log: "
                "inspect it before removing it"
            ) from e

    def _signed_by_log_key(self, data: bytes) -> bool:
        """Whether the note has a signature line of the log's key (name and key ID);
        unparseable bytes count as signed (to be refused by the full check)."""
        try:
            note = notes.parse_note(data)
        except notes.NoteError:
            return True
        key = (self.policy.log.name, self.policy.log.key_id)
        return any((s.name, s.key_id) == key for s in note.signatures)

    def _save_evidence(self, fork: LogFork) -> str:
        evidence = fork.evidence
        text = evidence_text(evidence, self.policy, self.log_url, self._now())
        try:
            path = log_cache.save_evidence(
                self.log_dir, evidence.kept.note, evidence.new.note, text
            )
        except OSError as e:
            log.error("transparency log: fork evidence not saved: %s\n%s", e, text)
            return f"the evidence could not be saved ({e}); it is in the client's log"
        log.error("transparency log: FORK: %s; evidence saved in %s", fork.message, path)
        return f"both signed checkpoints and the proof are saved in {path}: publish it"


def _width_at(tile: Tile, size: int) -> int:
    """The width ``tile``'s place has in the tree of ``size`` leaves (0: not there)."""
    count = size >> (TILE_HEIGHT * tile.level)
    return max(0, min(TILE_WIDTH, count - tile.index * TILE_WIDTH))
