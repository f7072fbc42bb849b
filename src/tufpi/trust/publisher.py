"""Publish pending target changes: bin-n roles, then snapshot, then timestamp.

Each bin is rebuilt from the ``targets`` rows of one consistent database read, so a batch can
be repeated after a crash with the same result; the database learns what was published only
after ``timestamp.json`` is in place. Clients always see a complete set: a crash before the
atomic replacement of ``timestamp.json`` leaves the previous one, a crash after it the new
one; either way the changes the database still counts as pending are published (again, with
the same content) by the next batch.

With a transparency log (issue 15), ``update_log`` (injected: this layer does not know the
log) is called once the bins are signed and before the snapshot is, so every target a new
timestamp shows is already in a checkpoint in storage; again after the timestamp (to log
the publication); and when there is nothing to publish (to finish what a crash left).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterator

from securesystemslib.signer import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Metadata, Snapshot, Targets, Timestamp

from tufpi.clock import Clock
from tufpi.db.dialect import dialect_of
from tufpi.db.models import RoleState, TargetChange
from tufpi.storage import Storage
from tufpi.trust import layout, roles, state
from tufpi.trust.bins import Checkpoint, no_checkpoint, sign_bins
from tufpi.trust.bulk import BinSigningPool
from tufpi.trust.errors import NotInitialised
from tufpi.trust.plan import Plan, make_plan
from tufpi.trust.policy import Policy
from tufpi.trust.store import MetadataStore

# Up to this many bins a publication fsyncs each bin file (an upload's batch: a few bins);
# more are made durable by one sync of the storage's file system.
_FSYNC_EACH_UP_TO = 64
# (bins signed so far, bins to sign) while a publication signs its bins.
Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """What one publication did."""

    snapshot_version: int
    timestamp_version: int
    bins: int
    changes: int
    published: bool


class Publisher:
    """Signs with the online key and writes metadata; one active instance per repository."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: Storage,
        signer: Signer,
        policy: Policy,
        clock: Clock,
        checkpoint: Checkpoint = no_checkpoint,
        pool: BinSigningPool | None = None,
        update_log: Callable[[], object] | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = MetadataStore(storage)
        self.signer = signer
        self.policy = policy
        self.clock = clock
        self.checkpoint = checkpoint
        # Worker processes for publications that re-sign many bins (None: this process).
        self.pool = pool
        # Appends the committed log entries and writes their checkpoint (None: no log).
        self.update_log = update_log
        self.progress: Progress | None = None
        self._snapshot: Metadata[Snapshot] | None = None
        self._timestamp: Metadata[Timestamp] | None = None
        self._bins = 0
        # (bins version, bin count) last found consistent: the check reads bins.json once.
        self._published_bins: tuple[int, int | None] | None = None

    def load(self) -> None:
        """Read the current timestamp and snapshot from storage (the published truth)."""
        if not self.store.exists():
            raise NotInitialised("no timestamp.json: run `tufpi trust init` first")
        with self.sessions() as session:
            bins = state.number_of_bins(session)
        if bins is None:
            raise NotInitialised("the database has no trust configuration: run `tufpi trust init`")
        self._bins = bins
        self._timestamp = self.store.timestamp()
        self._snapshot = self.store.snapshot(self._timestamp.signed.snapshot_meta.version)

    def forget(self) -> None:
        """Drop the cached metadata; the next publication reloads it from storage."""
        self._snapshot = None
        self._timestamp = None

    def publish(self) -> PublishResult:
        """Publish whatever is pending or about to expire; a no-op when nothing is."""
        if self._snapshot is None or self._timestamp is None:
            self.load()
        assert self._snapshot is not None
        assert self._timestamp is not None
        now = self.clock()
        expires = self.policy.online_expires(now)
        # One read transaction: the bin count, the pending set and the bins' rows are one
        # consistent view (a bins ceremony commits the new bins role, the new count and
        # every target's new bin at once: seen apart, the new role would be listed beside
        # bins signed for the old count, and the rebuild never noticed).
        with self._one_view() as session:
            rebuild = self._bin_count_changed(session)
            signed = None if rebuild else self._sign_pending(session, now, expires)
        if rebuild:
            # A bins role with another number of bins was imported: rebuild every bin. The
            # old bins stay listed: a snapshot may not drop what the last one named (TUF 5.5.5).
            return self.recover(keep_listed=True)
        if signed is None:
            self._log()  # nothing to publish: finish what a crash left of the log, if any
            return self._result(0, 0, published=False)
        plan, bin_versions, change_ids = signed
        self.checkpoint("bins")
        self._log()  # the entries of every target the snapshot will show, in a checkpoint
        snapshot, snapshot_bytes = self._sign_snapshot(plan, bin_versions, expires)
        timestamp = self._sign_timestamp(snapshot, snapshot_bytes, expires)
        self._record(snapshot, timestamp, bin_versions, change_ids, now)
        self.checkpoint("commit")
        self._log()  # this publication itself
        return self._result(len(bin_versions), len(change_ids), published=True)

    def _log(self) -> None:
        if self.update_log is not None:
            self.update_log()

    def _sign_pending(
        self, session: Session, now: dt.datetime, expires: dt.datetime
    ) -> tuple[Plan, dict[str, int], list[int]] | None:
        """Plan the publication and sign its bins in ``session``'s view; None if nothing
        is pending or due. Returns the plan, the new bin (and imported offline role)
        versions and the ids of the changes they publish."""
        assert self._snapshot is not None
        assert self._timestamp is not None
        offline = self._imported_offline_roles(session)
        plan = make_plan(
            self._pending_bins(session),
            self._expiring_bins(session, now),
            self._snapshot.signed.expires,
            self._timestamp.signed.expires,
            now,
            self.policy,
            offline_changed=bool(offline),
        )
        if plan.empty:
            return None
        # Each bin of the plan is rebuilt from its rows, so this batch publishes every
        # pending change of those bins (with a backlog, as when back-signing, all of them
        # in one batch).
        bin_versions, change_ids = self._sign_bins(session, plan.bins, expires)
        bin_versions.update(offline)
        return plan, bin_versions, change_ids

    @contextlib.contextmanager
    def _one_view(self) -> Iterator[Session]:
        """A read transaction whose queries all see one snapshot of the database (SQLite's
        WAL read transactions are snapshots; PostgreSQL needs REPEATABLE READ)."""
        with self.sessions() as session:
            if dialect_of(session) == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    def _result(self, bins: int, changes: int, published: bool) -> PublishResult:
        assert self._snapshot is not None
        assert self._timestamp is not None
        return PublishResult(
            self._snapshot.signed.version, self._timestamp.signed.version, bins, changes, published
        )

    def _pending_bins(self, session: Session) -> set[int]:
        """The bins with pending changes (at most one row per bin comes back)."""
        return set(
            session.scalars(
                select(TargetChange.bin).where(TargetChange.published_version.is_(None)).distinct()
            )
        )

    def _bin_count_changed(self, session: Session) -> bool:
        """Whether the database's bin count (in ``session``'s view) differs from the one the
        published snapshot's bins role delegates to (a bins role with another count was
        imported)."""
        assert self._snapshot is not None
        configured = state.number_of_bins(session)
        version = self._snapshot.signed.meta[f"{roles.BINS_ROLE}.json"].version
        if self._published_bins != (version, configured):
            bins = self.store.read(roles.BINS_ROLE, version).signed
            succinct = bins.delegations.succinct_roles if bins.delegations else None
            published = succinct.number_of_bins if succinct is not None else None
            if configured is not None and configured != published:
                return True
            self._published_bins = (version, configured)
        return False

    def _imported_offline_roles(self, session: Session) -> dict[str, int]:
        """targets/bins versions imported from a ceremony but not yet in the snapshot."""
        assert self._snapshot is not None
        meta = self._snapshot.signed.meta
        rows = session.execute(
            select(RoleState.name, RoleState.version).where(
                RoleState.name.in_([Targets.type, roles.BINS_ROLE])
            )
        )
        return {name: version for name, version in rows if version > meta[f"{name}.json"].version}

    def _expiring_bins(self, session: Session, now: dt.datetime) -> set[int]:
        names = session.scalars(
            select(RoleState.name).where(
                RoleState.name.like(f"{layout.BIN_PREFIX}-%"),
                RoleState.expires <= now + self.policy.resign_margin,
            )
        )
        return {int(name.rpartition("-")[2], 16) for name in names}

    def _sign_bins(
        self, session: Session, bins: Collection[int], expires: dt.datetime
    ) -> tuple[dict[str, int], list[int]]:
        """Sign ``bins`` and read their pending changes; returns (bin versions, change ids).

        The changes are read in ``session``'s transaction, whose snapshot was taken by its
        first read, before any row of a bin is read: so each of them is in the rows the bins
        are built from (rows read later are the same or newer, and a newer change is still
        pending, for the next batch). Many bins go to worker processes, which sign while
        this process reads the changes. The bin files are durable before any snapshot names
        them: a few by an fsync each, many by one sync of the whole storage file system (whose
        cost also depends on what else is waiting to be written there).
        """
        assert self._snapshot is not None
        current = {name: meta.version for name, meta in self._snapshot.signed.meta.items()}
        ordered = sorted(bins)
        each = len(ordered) <= _FSYNC_EACH_UP_TO
        report = self.progress or (lambda _done, _total: None)
        if self.pool is not None and self.pool.worth_it(len(ordered)):
            batch = self.pool.start(ordered, self._bins, current, expires)
            change_ids = state.pending_in_bins(session, ordered, self._bins)
            self.checkpoint("read")
            done = 0

            def advance(count: int) -> None:
                nonlocal done
                done += count
                report(done, len(ordered))
                self.checkpoint("bin")

            versions = batch.wait(advance)
        else:
            change_ids = state.pending_in_bins(session, ordered, self._bins)
            self.checkpoint("read")
            signed = 0

            def passed(name: str) -> None:
                nonlocal signed
                self.checkpoint(name)
                if name == "bin":
                    signed += 1
                    report(signed, len(ordered))

            versions = sign_bins(
                session,
                self.store,
                self.signer,
                ordered,
                self._bins,
                current,
                expires,
                passed,
                durable=each,
            )
        if not each:
            self.store.storage.sync()
        return versions, change_ids

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self.pool is not None:
            self.pool.close()

    def _sign_snapshot(
        self, plan: Plan, bin_versions: dict[str, int], expires: dt.datetime
    ) -> tuple[Metadata[Snapshot], bytes]:
        assert self._snapshot is not None
        if not plan.snapshot:
            current = self._snapshot
            return current, self.store.read_bytes(Snapshot.type, current.signed.version)
        md = roles.next_snapshot(self._snapshot.signed, expires, bin_versions)
        md.signed.version = self.store.free_version(Snapshot.type, md.signed.version)
        md.sign(self.signer)
        data = self.store.write_versioned(Snapshot.type, md)
        self.checkpoint("snapshot")
        return md, data

    def _sign_timestamp(
        self, snapshot: Metadata[Snapshot], snapshot_bytes: bytes, expires: dt.datetime
    ) -> Metadata[Timestamp]:
        assert self._timestamp is not None
        md = roles.next_timestamp(
            self._timestamp.signed, expires, snapshot.signed.version, snapshot_bytes
        )
        md.sign(self.signer)
        self.store.write_timestamp(md)
        self.checkpoint("timestamp")
        return md

    def _record(
        self,
        snapshot: Metadata[Snapshot],
        timestamp: Metadata[Timestamp],
        bin_versions: dict[str, int],
        change_ids: list[int],
        now: dt.datetime,
    ) -> None:
        """After timestamp.json is in place: tell the database what is now published."""
        assert self._snapshot is not None
        previous = self._snapshot.signed.version
        superseded = [
            layout.metadata_key(name, version - 1)
            for name, version in bin_versions.items()
            if version > 1 and name.startswith(layout.BIN_PREFIX + "-")
        ]
        if snapshot.signed.version != previous:
            superseded.append(layout.metadata_key(Snapshot.type, previous))
        expires = snapshot.signed.expires
        online = [
            (name, version, expires)
            for name, version in bin_versions.items()
            if name.startswith(layout.BIN_PREFIX + "-")
        ]
        online += [
            (Snapshot.type, snapshot.signed.version, snapshot.signed.expires),
            (Timestamp.type, timestamp.signed.version, timestamp.signed.expires),
        ]
        with self.sessions.begin() as session:
            state.mark_published(session, change_ids, snapshot.signed.version, now)
            state.save_role_states(session, online, now)
            state.add_superseded(session, superseded, now)
        self._snapshot = snapshot
        self._timestamp = timestamp

    def recover(self, keep_listed: bool = False) -> PublishResult:
        """Re-sign everything from the database, above every version now published.

        After an online key leaked (and root and bins were given a new one): each bin-n is
        rebuilt from its ``targets`` rows, so whatever the attacker added or changed is gone;
        the snapshot is rebuilt from scratch (no entry the attacker slipped in survives);
        versions go above the attacker's, so clients that saw them move on (TUF 5.3.11).
        ``keep_listed`` keeps every role the current snapshot names (when the snapshot key
        did not change, clients require it).
        """
        self.load()
        assert self._snapshot is not None
        assert self._timestamp is not None
        now = self.clock()
        expires = self.policy.online_expires(now)
        with self._one_view() as session:
            # The count of this view, with the bins role and the targets' bins it signs.
            self._bins = state.number_of_bins(session) or self._bins
            offline = {
                name: state.role_version(session, name) or 1
                for name in (Targets.type, roles.BINS_ROLE)
            }
            bin_versions, change_ids = self._sign_bins(session, range(self._bins), expires)
        self.checkpoint("bins")
        self._log()
        version = self.store.free_version(Snapshot.type, self._snapshot.signed.version + 1)
        listed = (
            {
                name.removesuffix(".json"): meta.version
                for name, meta in self._snapshot.signed.meta.items()
            }
            if keep_listed
            else {}
        )
        snapshot = roles.first_snapshot(expires, {**listed, **offline, **bin_versions}, version)
        snapshot.sign(self.signer)
        data = self.store.write_versioned(Snapshot.type, snapshot)
        timestamp = self._sign_timestamp(snapshot, data, expires)
        self._record(snapshot, timestamp, bin_versions, change_ids, now)
        self._log()
        return self._result(len(bin_versions), len(change_ids), published=True)

    def sweep(self) -> int:
        """Delete superseded versioned metadata older than the grace period; never roots."""
        before = self.clock() - self.policy.sweep_grace
        with self.sessions.begin() as session:
            keys = state.take_sweepable(session, before)
        for key in keys:
            self.store.storage.delete(key)
        return len(keys)
