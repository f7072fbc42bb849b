"""The sequencer on a real database (SQLite, and PostgreSQL when available) and local
storage: entries appended in order, tiles, bundles, lookups and a signed checkpoint equal to
those of the whole tree however the log grew, the current publication logged once, refusals
that sign nothing, and a run that reads only what is new."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select

from tufpi.db import make_engine, make_sessionmaker, upgrade
from tufpi.db.models import LogLeaf, LogPending
from tufpi.db.session import make_write_sessionmaker
from tufpi.storage import LocalStorage
from tufpi.tlog import checkpoints, entries, hashing, notes, tiles
from tufpi.tlog.policy import LogPolicy
from tufpi.transparency import (
    Consistency,
    LogError,
    LogKey,
    LogKeyMismatch,
    Sequencer,
    SequenceResult,
    TufFiles,
    bound_log_key,
    layout,
    record,
)
from tufpi.transparency.leaves import target_path
from tufpi.transparency.sequencer import CosignRetry

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
ORIGIN = "example.test/tlog"


class CountingStorage(LocalStorage):
    """Local storage that remembers which keys were opened."""

    opened: list[str]

    def open(self, key: str) -> BinaryIO:
        self.opened.append(key)
        return super().open(key)


@dataclasses.dataclass
class Log:
    tmp: Path
    storage: CountingStorage
    sequencer: Sequencer
    key: Ed25519PrivateKey
    tuf: dict[str, bytes]  # "timestamp", "snapshot"
    added: int = 0

    @property
    def verifier(self) -> notes.Verifier:
        return notes.verifier_for(ORIGIN, self.key, notes.ED25519)

    def add(self, count: int) -> None:
        """Record ``count`` file entries, as uploads do."""
        batch = [
            entries.FileAdded(
                project="p",
                version="1",
                filename=f"p-{self.added + n}.tar.gz",
                path=f"packages/{self.added + n}/p.tar.gz",
                sha256=hashlib.sha256(str(self.added + n).encode()).hexdigest(),
                size=self.added + n,
                time=NOW,
                via="upload",
            )
            for n in range(count)
        ]
        with self.sequencer.write_sessions.begin() as session:
            record(session, batch)
        self.added += count

    def publish_timestamp(self, version: int) -> None:
        signed = {"version": version, "meta": {"snapshot.json": {"version": version}}}
        self.tuf["timestamp"] = json.dumps({"signed": signed}).encode()
        self.tuf["snapshot"] = f"snapshot {version}".encode()

    def read(self, rest: str) -> bytes:
        return (self.tmp / "files" / "tlog" / rest).read_bytes()

    def leaves(self) -> list[bytes]:
        with self.sequencer.sessions() as session:
            return list(session.scalars(select(LogLeaf.entry).order_by(LogLeaf.seq)))

    def checkpoint(self) -> checkpoints.Checkpoint:
        checkpoint, _ = checkpoints.open_checkpoint(
            self.read("checkpoint"), [self.verifier], ORIGIN
        )
        return checkpoint


def _missing(_version: int = 0) -> bytes:
    raise FileNotFoundError("no timestamp.json")


@pytest.fixture
def log(tmp_path: Path, own_database_url: str | None) -> Iterator[Log]:
    """An empty log on SQLite, and on a PostgreSQL database of the test's own."""
    engine = make_engine(own_database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    storage = CountingStorage(tmp_path / "files")
    storage.opened = []
    key = Ed25519PrivateKey.generate()
    tuf: dict[str, bytes] = {}
    files = TufFiles(
        timestamp=lambda: tuf["timestamp"] if "timestamp" in tuf else _missing(),
        snapshot=lambda _version: tuf["snapshot"],
    )
    sequencer = Sequencer(
        make_sessionmaker(engine),
        make_write_sessionmaker(engine),
        storage,
        LogKey(ORIGIN, key),
        files,
        lambda: NOW,
    )
    yield Log(tmp_path, storage, sequencer, key, tuf)
    engine.dispose()


def _check_whole_tree(log: Log) -> None:
    """Storage holds exactly the tiles, bundles and lookups of the whole tree, and a
    checkpoint of its root signed by the log key."""
    leaves = log.leaves()
    hashes = [hashing.leaf_hash(leaf) for leaf in leaves]
    checkpoint = log.checkpoint()
    assert checkpoint.size == len(leaves)
    assert checkpoint.root_hash == hashing.root_hash(hashes)
    for tile in tiles.tiles_for_size(len(leaves)):
        assert log.read(tile.path()) == tiles.tile_content(tile, hashing.list_hasher(hashes))
        if tile.level == 0:
            start, end = tile.leaf_range()
            assert log.read(tile.entries_path()) == tiles.encode_bundle(leaves[start:end])
    for index, leaf in enumerate(leaves):
        entry = entries.parse_entry(leaf)
        if isinstance(entry, entries.FileAdded):
            lookup = log.read(f"lookup/{layout.lookup_name(entry.path)}")
            assert layout.parse_lookup(lookup) == (index, leaf)


def test_the_log_grows_into_the_tiles_of_the_whole_tree(log: Log) -> None:
    for count in [3, 252, 1, 300, 2]:
        log.add(count)
        result = log.sequencer.run()
        assert (result.appended, result.size, result.signed) == (count, log.added, True)
        _check_whole_tree(log)
    # In the order recorded: leaf i is file i.
    parsed = [entries.parse_entry(leaf) for leaf in log.leaves()]
    assert [e.size for e in parsed if isinstance(e, entries.FileAdded)] == list(range(log.added))
    with log.sequencer.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LogPending)) == 0


def test_only_file_entries_have_a_path(log: Log) -> None:
    """The path the database extracts is the file entry's, whatever the other kinds hold
    (a reason that spells a file entry's bytes is escaped, and not taken for one; a NUL,
    which PostgreSQL's jsonb cannot hold, is only read as text)."""
    sha = "ab" * 32
    recorded: list[entries.Entry] = [
        entries.Yanked("p", "1", True, NOW, reason='x","kind":"file","path":"evil\x00'),
        entries.FileRemoved("p", "1", "p-1.tar.gz", "packages/gone", sha, NOW),
        entries.Published(3, sha, 2, sha, NOW),
        entries.FileAdded("p", "1", "p-2.tar.gz", "packages/é/x", sha, 1, NOW, "import"),
    ]
    with log.sequencer.write_sessions.begin() as session:
        record(session, recorded)
    log.sequencer.run()
    with log.sequencer.sessions() as session:
        paths = list(session.scalars(select(LogLeaf.path).order_by(LogLeaf.seq)))
    assert paths == [None, None, None, "packages/é/x"]  # its \\u escape undone
    assert paths == [target_path(leaf) for leaf in log.leaves()]


def test_nothing_new_signs_nothing(log: Log) -> None:
    log.add(2)
    log.sequencer.run()
    before = log.read("checkpoint")
    result = log.sequencer.run()
    assert (result.appended, result.signed) == (0, False)
    assert log.read("checkpoint") == before


def test_the_current_publication_is_logged_once(log: Log) -> None:
    log.publish_timestamp(1)
    log.add(1)
    assert log.sequencer.run().appended == 2  # the file, then the publication
    assert log.sequencer.run().appended == 0
    log.publish_timestamp(2)
    assert log.sequencer.run().appended == 1
    published = [e for e in map(entries.parse_entry, log.leaves()) if e.kind == "publication"]
    assert [(e.timestamp_version, e.timestamp_sha256) for e in published] == [
        (1, published[0].timestamp_sha256),
        (2, hashlib.sha256(log.tuf["timestamp"]).hexdigest()),
    ]
    # A new sequencer (a restarted signer) finds it in the database, and logs no duplicate.
    again = Sequencer(
        log.sequencer.sessions,
        log.sequencer.write_sessions,
        log.storage,
        log.sequencer.key,
        log.sequencer.tuf,
        lambda: NOW,
    )
    assert again.run().appended == 0


def test_a_crash_before_the_checkpoint_is_completed_by_the_next_run(log: Log) -> None:
    log.add(300)
    log.sequencer.run()
    old = log.read("checkpoint")

    class Crash(Exception):
        pass

    def crash(name: str) -> None:
        if name == "log-tiles":
            raise Crash(name)

    log.sequencer.passed = crash
    log.add(10)
    with pytest.raises(Crash):
        log.sequencer.run()
    assert log.read("checkpoint") == old  # still the old, valid log
    log.sequencer.passed = lambda _name: None
    # The leaves were committed before the crash: this run only publishes them.
    assert log.sequencer.run() == SequenceResult(appended=0, size=310, signed=True)
    _check_whole_tree(log)


def test_a_run_reads_only_the_edge_of_the_tree(log: Log) -> None:
    log.add(600)
    log.sequencer.run()
    log.storage.opened = []
    log.add(1)
    log.sequencer.run()
    # The checkpoint, then the old tree's partial level-1 tile (level 0 comes from the
    # database's last 88 leaves): never a full tile.
    assert log.storage.opened == ["tlog/checkpoint", "tlog/tile/1/000.p/2"]


def test_a_tile_that_does_not_match_the_checkpoint_is_refused(log: Log) -> None:
    log.add(600)
    log.sequencer.run()
    before = log.read("checkpoint")
    tile = log.tmp / "files" / "tlog" / "tile" / "1" / "000.p" / "2"
    tile.write_bytes(bytes(64))
    log.add(1)
    with pytest.raises(LogError, match="does not match the log's leaves"):
        log.sequencer.run()
    assert log.read("checkpoint") == before


def test_a_database_behind_the_checkpoint_is_refused(log: Log) -> None:
    log.add(5)
    log.sequencer.run()
    before = log.read("checkpoint")
    with log.sequencer.write_sessions.begin() as session:
        session.execute(delete(LogLeaf).where(LogLeaf.seq >= 3))
    with pytest.raises(LogError, match="names 5 leaves but the database holds only 3"):
        log.sequencer.run()
    assert log.read("checkpoint") == before


def test_cosignatures_are_appended(log: Log) -> None:
    witness = Ed25519PrivateKey.generate()
    seen: list[tuple[int, list[bytes]]] = []

    def cosign(
        signed: bytes, checkpoint: checkpoints.Checkpoint, consistency: Consistency
    ) -> list[notes.Signature]:
        note = notes.parse_note(signed)
        notes.verify_note(note, [log.verifier])  # the log's own signature comes first
        seen.append((checkpoint.size, consistency(1, checkpoint.size)))
        return [notes.cosign(note.text, "witness.test", witness, 1_800_000_000)]

    log.sequencer.cosign = cosign
    log.add(1)
    log.sequencer.run()
    log.add(3)
    log.sequencer.run()
    note = notes.parse_note(log.read("checkpoint"))
    cosigner = notes.verifier_for("witness.test", witness, notes.COSIGNATURE_V1)
    verified = notes.verify_note(note, [log.verifier, cosigner])
    assert [v.verifier.name for v in verified] == [ORIGIN, "witness.test"]
    size, proof = seen[-1]
    old_root = hashing.root_hash([hashing.leaf_hash(log.leaves()[0])])
    hashing.verify_consistency(1, size, old_root, log.checkpoint().root_hash, proof)


def test_a_big_append_is_published_in_steps(log: Log) -> None:
    """Each step has its checkpoint (a crash keeps the steps done); only the last is
    given to the witnesses."""
    sizes: list[int] = []

    def cosign(
        _signed: bytes, checkpoint: checkpoints.Checkpoint, _consistency: Consistency
    ) -> list[notes.Signature]:
        sizes.append(checkpoint.size)
        return []

    log.sequencer.step, log.sequencer.cosign = 100, cosign
    written: list[int] = []
    log.sequencer.passed = lambda name: (
        written.append(log.checkpoint().size) if name == "log-checkpoint" else None
    )
    log.add(250)
    assert log.sequencer.run().size == 250
    assert written == [100, 200, 250]
    assert sizes == [250]
    _check_whole_tree(log)


def test_the_key_must_be_the_roots() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    field = LogPolicy(notes.verifier_for(ORIGIN, key, notes.ED25519)).to_field()
    assert bound_log_key({}, lambda: key, "k.pem") is None  # no log in the root: none run
    bound = bound_log_key({"x-tufpi-tlog": field}, lambda: key, "k.pem")
    assert bound is not None
    assert bound.origin == ORIGIN
    with pytest.raises(LogKeyMismatch, match=r"the log key other\.pem is not the key the TUF root"):
        bound_log_key({"x-tufpi-tlog": field}, lambda: other, "other.pem")
    with pytest.raises(LogError, match="malformed"):
        bound_log_key({"x-tufpi-tlog": {"log": "x"}}, lambda: key, "k.pem")


def test_a_checkpoint_short_of_cosignatures_is_offered_again_with_backoff() -> None:
    retry = CosignRetry(first=2.0, maximum=5.0)
    assert not retry.due(0.0)  # every witness cosigned (nothing written yet)
    retry.missing(10.0)
    assert not retry.due(11.9)
    assert retry.due(12.0)
    retry.missing(12.0)  # still down: twice as long
    assert not retry.due(15.9)
    assert retry.due(16.0)
    retry.missing(16.0)
    retry.missing(21.0)  # capped at the maximum
    assert retry.next_at == 26.0
    retry.complete()
    assert not retry.due(1000.0)
    retry.missing(1000.0)  # a new outage starts from the first wait again
    assert retry.next_at == 1002.0
