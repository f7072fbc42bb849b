"""The publisher over a real SQLite database and local storage, with a clock the tests move:
pending changes, no-op publications, re-signing before expiry, sweeping, crash recovery."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tufpi.config import Settings
from tufpi.db import make_engine, upgrade
from tufpi.db.models import TargetChange
from tufpi.keys import dev
from tufpi.services import Services
from tufpi.trust import changes, layout, offline, roles, state
from tufpi.trust.ceremony import KeyChanges
from tufpi.trust.init import OfflineSigners, dev_keyset, initialise
from tufpi.trust.publisher import Checkpoint, Publisher, PublishResult, no_checkpoint
from tufpi.trust.store import MetadataStore

BINS = 16
START = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


class Crash(Exception):
    """Raised by a checkpoint to stop a publication half-way."""


def crash_at(point: str) -> Checkpoint:
    def checkpoint(name: str) -> None:
        if name == point:
            raise Crash(point)

    return checkpoint


class Repo:
    """An initialised repository (development keys) in a temporary directory."""

    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "data", keys_dir=tmp_path / "keys", bins=BINS)
        settings.data_dir.mkdir()
        upgrade(make_engine(settings.effective_database_url))
        self.clock = Clock(START)
        self.services = Services.from_settings(settings, clock=self.clock)
        self.store = MetadataStore(self.services.storage)
        self.keys = dev.load_or_create(settings.keys_dir)
        initialise(
            self.services.sessions,
            self.services.storage,
            dev_keyset(self.keys),
            OfflineSigners(root=self.keys.root, targets=[self.keys.targets], bins=[self.keys.bins]),
            self.keys.online,
            BINS,
            self.services.policy,
            self.clock(),
        )

    def publisher(self, point: str | None = None) -> Publisher:
        return self.services.publisher(crash_at(point) if point else no_checkpoint)

    def add(self, path: str, content: bytes) -> None:
        """Record a target change as the web does: in the caller's transaction."""
        with self.services.sessions.begin() as session:
            target = changes.TargetFile(
                path,
                len(content),
                hashlib.sha256(content).hexdigest(),
                hashlib.sha512(content).hexdigest(),
            )
            changes.set_targets(
                session,
                [target],
                project_id=None,
                project=None,
                actor="tester",
                now=self.clock(),
            )

    def drop(self, path: str) -> None:
        with self.services.sessions.begin() as session:
            changes.drop_target(session, path, project=None, actor="tester", now=self.clock())

    def timestamp_bytes(self) -> bytes:
        return self.store.read_bytes("timestamp")

    def versions(self) -> dict[str, int]:
        """Role versions the published timestamp names, snapshot included."""
        timestamp = self.store.timestamp().signed
        snapshot = self.store.snapshot(timestamp.snapshot_meta.version).signed
        found = {name.removesuffix(".json"): meta.version for name, meta in snapshot.meta.items()}
        return {**found, "snapshot": snapshot.version, "timestamp": timestamp.version}

    def listed(self, path: str) -> dict[str, Any] | None:
        """The target as the currently published bin lists it."""
        name = layout.bin_name(layout.bin_index(path, BINS), BINS)
        md = self.store.read(name, self.versions()[name])
        target = md.signed.targets.get(path)
        return None if target is None else {"length": target.length, **target.hashes}

    def change_log(self) -> list[tuple[str, str, int | None]]:
        with self.services.sessions() as session:
            rows = session.execute(
                select(
                    TargetChange.path, TargetChange.action, TargetChange.published_version
                ).order_by(TargetChange.id)
            )
            return [(r[0], r[1], r[2]) for r in rows]


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo(tmp_path)
    yield repo
    repo.services.engine.dispose()


def dist_path(content: bytes, filename: str) -> str:
    digest = hashlib.sha256(content).hexdigest()
    return f"packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}"


def bin_of(path: str) -> str:
    return layout.bin_name(layout.bin_index(path, BINS), BINS)


def test_initialisation_publishes_version_one_of_everything(repo: Repo) -> None:
    versions = repo.versions()
    assert versions == {
        "targets": 1,
        "bins": 1,
        **{layout.bin_name(i, BINS): 1 for i in range(BINS)},
        "snapshot": 1,
        "timestamp": 1,
    }


def test_publish_signs_the_changed_bin_then_snapshot_and_timestamp(repo: Repo) -> None:
    wheel = b"wheel bytes"
    path = dist_path(wheel, "demo-1.0-py3-none-any.whl")
    before = repo.versions()
    repo.add(path, wheel)
    publisher = repo.publisher()
    result = publisher.publish()
    assert result == PublishResult(2, 2, bins=1, changes=1, published=True)
    after = repo.versions()
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {bin_of(path), "snapshot", "timestamp"}
    assert after[bin_of(path)] == 2
    assert repo.listed(path) == {
        "length": len(wheel),
        "sha256": hashlib.sha256(wheel).hexdigest(),
        "sha512": hashlib.sha512(wheel).hexdigest(),
    }
    assert repo.change_log() == [(path, "add", 2)]


def test_a_batch_of_changes_is_one_snapshot(repo: Repo) -> None:
    paths = [layout.page_path(f"proj-{i}", "index.html") for i in range(20)]
    for i, path in enumerate(paths):
        repo.add(path, f"page {i}".encode())
    result = repo.publisher().publish()
    assert result.published
    assert result.changes == 20
    assert result.bins == len({bin_of(p) for p in paths})
    assert result.snapshot_version == 2
    assert all(repo.listed(p) is not None for p in paths)
    assert {v for _p, _a, v in repo.change_log()} == {2}


def test_removal_leaves_the_bin(repo: Repo) -> None:
    path = layout.page_path("gone", "index.json")
    repo.add(path, b"{}")
    publisher = repo.publisher()
    publisher.publish()
    repo.drop(path)
    result = publisher.publish()
    assert result.snapshot_version == 3
    assert repo.listed(path) is None
    assert repo.change_log() == [(path, "add", 2), (path, "remove", 3)]


def test_nothing_pending_is_a_no_op(repo: Repo) -> None:
    publisher = repo.publisher()
    repo.add(layout.page_path("once", "index.html"), b"x")
    publisher.publish()
    timestamp, versions = repo.timestamp_bytes(), repo.versions()
    for _ in range(2):
        result = publisher.publish()
        assert not result.published
        assert (result.bins, result.changes) == (0, 0)
        assert (result.snapshot_version, result.timestamp_version) == (2, 2)
    assert repo.timestamp_bytes() == timestamp
    assert repo.versions() == versions


def test_the_log_is_updated_before_the_snapshot_and_after_the_timestamp(repo: Repo) -> None:
    """The injected log update (issue 15) runs once the bins are signed and before any
    snapshot or timestamp shows them, then after the timestamp; with nothing to publish,
    once (to finish what a crash left)."""
    calls: list[dict[str, int]] = []
    publisher = repo.publisher()
    publisher.update_log = lambda: calls.append(repo.versions())
    repo.add("packages/a/log-1.0.tar.gz", b"a")
    publisher.publish()
    before, after = calls
    assert (before["snapshot"], before["timestamp"]) == (1, 1)
    assert (after["snapshot"], after["timestamp"]) == (2, 2)
    calls.clear()
    publisher.publish()
    assert calls == [after]
    calls.clear()
    publisher.recover()
    assert [(c["snapshot"], c["timestamp"]) for c in calls] == [(2, 2), (3, 3)]


def test_a_failed_log_update_stops_the_publication(repo: Repo) -> None:
    """No timestamp shows a target whose entry could not be logged."""

    def fail() -> None:
        raise Crash("log")

    publisher = repo.publisher()
    publisher.update_log = fail
    repo.add("packages/a/log-2.0.tar.gz", b"b")
    before = repo.timestamp_bytes()
    with pytest.raises(Crash):
        publisher.publish()
    assert repo.timestamp_bytes() == before


def test_the_same_target_again_is_not_a_change(repo: Repo) -> None:
    path = layout.page_path("same", "index.html")
    repo.add(path, b"x")
    publisher = repo.publisher()
    publisher.publish()
    repo.add(path, b"x")
    assert not publisher.publish().published
    assert len(repo.change_log()) == 1


def test_just_before_the_margin_nothing_is_re_signed(repo: Repo) -> None:
    policy = repo.services.policy
    repo.clock.advance(policy.online_expiry - policy.resign_margin - dt.timedelta(seconds=1))
    assert not repo.publisher().publish().published


def test_online_roles_are_re_signed_before_they_expire(repo: Repo) -> None:
    policy = repo.services.policy
    repo.clock.advance(policy.online_expiry - policy.resign_margin)
    publisher = repo.publisher()
    result = publisher.publish()
    assert result == PublishResult(2, 2, bins=BINS, changes=0, published=True)
    versions = repo.versions()
    assert all(versions[layout.bin_name(i, BINS)] == 2 for i in range(BINS))
    assert (versions["targets"], versions["bins"]) == (1, 1)  # offline roles are not touched
    new_expiry = repo.clock() + policy.online_expiry
    timestamp = repo.store.timestamp().signed
    assert timestamp.expires == new_expiry
    assert repo.store.snapshot(2).signed.expires == new_expiry
    assert repo.store.read(layout.bin_name(0, BINS), 2).signed.expires == new_expiry
    # Fresh again: the next look does nothing.
    assert not publisher.publish().published


def test_only_bins_that_are_due_are_re_signed(repo: Repo) -> None:
    publisher = repo.publisher()
    repo.clock.advance(dt.timedelta(hours=1))
    early = layout.page_path("early", "index.html")
    repo.add(early, b"x")
    publisher.publish()  # its bin now expires an hour after every other bin
    policy = repo.services.policy
    repo.clock.advance(policy.online_expiry - policy.resign_margin - dt.timedelta(hours=1))
    result = publisher.publish()
    assert result == PublishResult(3, 3, bins=BINS - 1, changes=0, published=True)
    versions = repo.versions()
    assert versions[bin_of(early)] == 2
    others = [layout.bin_name(i, BINS) for i in range(BINS)]
    assert all(versions[name] == 2 for name in others if name != bin_of(early))


def test_superseded_metadata_is_swept_after_the_grace_period(repo: Repo) -> None:
    path = layout.page_path("sweep", "index.html")
    name = bin_of(path)
    storage = repo.services.storage
    publisher = repo.publisher()
    repo.add(path, b"x")
    publisher.publish()
    superseded = [layout.metadata_key(name, 1), layout.metadata_key("snapshot", 1)]
    kept = [
        layout.metadata_key("root", 1),
        layout.metadata_key("root"),
        layout.metadata_key("targets", 1),
        layout.metadata_key("bins", 1),
        layout.metadata_key(name, 2),
        layout.metadata_key("snapshot", 2),
        layout.metadata_key("timestamp"),
    ]
    assert publisher.sweep() == 0  # still inside the grace period
    repo.clock.advance(repo.services.policy.sweep_grace - dt.timedelta(seconds=1))
    assert publisher.sweep() == 0
    assert all(storage.exists(key) for key in superseded + kept)
    repo.clock.advance(dt.timedelta(seconds=2))
    assert publisher.sweep() == len(superseded)
    assert not any(storage.exists(key) for key in superseded)
    assert all(storage.exists(key) for key in kept)
    assert publisher.sweep() == 0


def test_roots_are_never_swept(repo: Repo) -> None:
    publisher = repo.publisher()
    policy = repo.services.policy
    # Two full re-signings (every online role superseded twice), then long past the grace.
    for _ in range(2):
        repo.clock.advance(policy.online_expiry)
        assert publisher.publish().bins == BINS
    repo.clock.advance(policy.sweep_grace * 2)
    assert publisher.sweep() == 2 * (BINS + 1)
    storage = repo.services.storage
    assert storage.exists(layout.metadata_key("root", 1))
    assert storage.exists(layout.metadata_key("root"))
    remaining = set(storage.keys("tuf/"))
    assert remaining == {
        "tuf/1.root.json",
        "tuf/root.json",
        "tuf/1.targets.json",
        "tuf/1.bins.json",
        "tuf/3.snapshot.json",
        "tuf/timestamp.json",
        *(f"tuf/3.{layout.bin_name(i, BINS)}.json" for i in range(BINS)),
    }


# -- crashes ---------------------------------------------------------------------------------

# Checkpoints passed before timestamp.json is replaced.
BEFORE_TIMESTAMP = ["read", "bin", "bins", "snapshot"]


def assert_recovers(repo: Repo, paths: list[str], published_in: int) -> None:
    """A fresh publisher (a restarted signer) publishes every pending change exactly once."""
    publisher = repo.publisher()
    result = publisher.publish()
    assert result.published
    assert result.changes == len(paths)
    assert result.snapshot_version == published_in
    log = repo.change_log()
    assert [p for p, _a, _v in log] == paths  # one log row per change...
    assert all(v == published_in for _p, _a, v in log)  # ...published by one snapshot
    assert all(repo.listed(p) is not None for p in paths)
    assert not publisher.publish().published  # nothing is published twice


@pytest.mark.parametrize("point", BEFORE_TIMESTAMP)
def test_crash_before_the_timestamp_leaves_the_published_repository(repo: Repo, point: str) -> None:
    paths = [layout.page_path(f"crash-{i}", "index.html") for i in range(3)]
    for path in paths:
        repo.add(path, path.encode())
    timestamp, versions = repo.timestamp_bytes(), repo.versions()
    before_files = {p.name for p in (repo.services.storage.root / "tuf").iterdir()}
    with pytest.raises(Crash):
        repo.publisher(point).publish()
    assert repo.timestamp_bytes() == timestamp
    assert repo.versions() == versions
    assert all(repo.listed(p) is None for p in paths)
    assert all(v is None for _p, _a, v in repo.change_log())
    tuf_dir = repo.services.storage.root / "tuf"
    orphans = {p.name: p.read_bytes() for p in tuf_dir.iterdir() if p.name not in before_files}
    # Orphaned versioned files are never rewritten (a CDN may have cached those names as
    # immutable): the next batch takes the following version numbers instead.
    assert_recovers(repo, paths, published_in=3 if point == "snapshot" else 2)
    assert {name: (tuf_dir / name).read_bytes() for name in orphans} == orphans


def test_crash_after_the_timestamp_before_the_database_learns_of_it(repo: Repo) -> None:
    # The "timestamp" checkpoint is passed once timestamp.json is in place: clients already
    # see the new, complete snapshot, but the database still counts the changes as pending.
    paths = [layout.page_path(f"late-{i}", "index.json") for i in range(3)]
    for path in paths:
        repo.add(path, path.encode())
    timestamp = repo.timestamp_bytes()
    with pytest.raises(Crash):
        repo.publisher("timestamp").publish()
    assert repo.timestamp_bytes() != timestamp
    assert repo.versions()["snapshot"] == 2
    assert all(repo.listed(p) is not None for p in paths)
    assert all(v is None for _p, _a, v in repo.change_log())
    # The restarted signer publishes them again in the next snapshot, and only once.
    assert_recovers(repo, paths, published_in=3)


def test_changes_made_during_a_crashed_publication_are_published_too(repo: Repo) -> None:
    first = layout.page_path("first", "index.html")
    repo.add(first, b"1")
    with pytest.raises(Crash):
        repo.publisher("bins").publish()
    second = layout.page_path("second", "index.html")
    repo.add(second, b"2")
    assert_recovers(repo, [first, second], published_in=2)


def test_a_bins_ceremony_committed_during_a_publication_is_rebuilt(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bins ceremony (16 -> 32 bins) commits right after the signer read the bin count.

    Read apart from the rest of the publication, that count said nothing changed while the
    rows already held the new bins role: it was listed beside the 16 old bins, and no later
    publication rebuilt the 32 new ones (test_rebin's signer, waiting for ever)."""
    publisher = repo.publisher()
    publisher.publish()  # loaded: the ceremony lands in a running signer's loop
    proposal = offline.propose(
        repo.store, roles.BINS_ROLE, repo.clock(), 365, KeyChanges(number_of_bins=32)
    )
    proposal.metadata.sign(repo.keys.bins)
    read_count = state.number_of_bins
    imported: list[int] = []

    def count_then_ceremony(session: Any) -> int | None:
        count = read_count(session)
        monkeypatch.undo()  # once (the import reads the count too)
        imported.append(
            offline.import_signed(
                repo.services.sessions,
                repo.services.storage,
                roles.BINS_ROLE,
                proposal.metadata,
                repo.clock(),
            )
        )
        return count

    monkeypatch.setattr(state, "number_of_bins", count_then_ceremony)
    publisher.publish()
    assert imported == [2]
    publisher.publish()
    versions = repo.versions()
    assert versions["bins"] == 2
    new_bins = {layout.bin_name(i, 32) for i in range(32)}
    assert new_bins <= set(versions), sorted(new_bins - set(versions))
