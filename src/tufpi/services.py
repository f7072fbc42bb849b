"""Build the index's services from settings: the one place that wires I/O together."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from securesystemslib.signer import Key
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Snapshot, Timestamp

from tufpi.clock import Clock, utcnow
from tufpi.config import Settings
from tufpi.db import make_engine, make_sessionmaker
from tufpi.db.session import make_write_sessionmaker
from tufpi.index.accounts import AccountService
from tufpi.index.maintainers import MaintainerService
from tufpi.index.service import IndexService
from tufpi.keys import load_log_key, load_signer
from tufpi.storage import LocalStorage, Storage
from tufpi.tlog.notes import Verifier
from tufpi.tlog.policy import policy_of
from tufpi.transparency import (
    Cosign,
    CosignRetry,
    Sequencer,
    TufFiles,
    Witnesses,
    bound_log_key,
)
from tufpi.trust.bins import Checkpoint, no_checkpoint
from tufpi.trust.bulk import BinSigningPool, WorkerSetup, default_workers
from tufpi.trust.policy import Policy
from tufpi.trust.publisher import Publisher
from tufpi.trust.roles import online_keys
from tufpi.trust.store import MetadataStore
from tufpi.upstream.mirror import Mirror


def policy_from(settings: Settings) -> Policy:
    return Policy(
        offline_expiry=dt.timedelta(seconds=settings.offline_expiry),
        online_expiry=dt.timedelta(seconds=settings.online_expiry),
        resign_margin=dt.timedelta(seconds=settings.resign_margin),
        sweep_grace=dt.timedelta(seconds=settings.sweep_grace),
    )


@dataclasses.dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    index: IndexService
    accounts: AccountService
    clock: Clock
    # Owners' self-service and the administrator's commands (issue 16).
    maintainers: MaintainerService

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utcnow) -> Services:
        engine = make_engine(settings.effective_database_url)
        sessions = make_sessionmaker(engine)
        storage = LocalStorage(settings.effective_storage_dir)
        writes = make_write_sessionmaker(engine)
        index = IndexService(
            sessions, writes, storage, clock, upstream_allow=settings.upstream_allow
        )
        return cls(
            settings,
            engine,
            sessions,
            storage,
            index,
            AccountService(sessions, clock),
            clock,
            MaintainerService(index, sessions, writes, clock),
        )

    def mirror(self) -> Mirror | None:
        """The pull-through of the configured upstreams; None when there are none."""
        if not self.settings.upstream:
            return None
        return Mirror.from_settings(self.settings, self.index, self.clock)

    @property
    def policy(self) -> Policy:
        return policy_from(self.settings)

    def publisher(self, checkpoint: Checkpoint = no_checkpoint) -> Publisher:
        """A publisher signing with the online key only (the one key a server holds), and
        appending to the transparency log before each snapshot when the root names one.

        Raises:
            tufpi.transparency.LogKeyMismatch: the log key is not the one the root names.
            tufpi.keys.LogKeyError: the root names a log and its key cannot be loaded.
        """
        root = MetadataStore(self.storage).root()
        trusted = online_keys(root.signed)
        signer = load_signer(self.settings.online_key_uri, trusted)
        sequencer = self.sequencer(checkpoint)
        return Publisher(
            self.sessions,
            self.storage,
            signer,
            self.policy,
            self.clock,
            checkpoint=checkpoint,
            pool=self.signing_pool(trusted),
            update_log=sequencer.run if sequencer is not None else None,
        )

    def sequencer(
        self, checkpoint: Checkpoint = no_checkpoint, cosign: Cosign | None = None
    ) -> Sequencer | None:
        """The transparency log's sequencer, signing with the log key the published root
        names; None when the root names no log (an older repository).

        Raises: as ``publisher``.
        """
        store = MetadataStore(self.storage)
        path = self.settings.log_key_path
        key = bound_log_key(
            store.root().signed.unrecognized_fields, lambda: load_log_key(path), str(path)
        )
        if key is None:
            return None
        if cosign is None and self.settings.witnesses:
            cosign = Witnesses.from_settings(self.settings, lambda: _witness_keys(store)).cosign
        tuf = TufFiles(
            timestamp=lambda: store.read_bytes(Timestamp.type),
            snapshot=lambda version: store.read_bytes(Snapshot.type, version),
        )
        return Sequencer(
            self.sessions,
            make_write_sessionmaker(self.engine),
            self.storage,
            key,
            tuf,
            self.clock,
            passed=checkpoint,
            cosign=cosign,
            cosigners=len(self.settings.witnesses) if cosign is not None else 0,
            retry=CosignRetry(maximum=self.settings.witness_retry),
        )

    def signing_pool(self, trusted: list[Key]) -> BinSigningPool:
        """Worker processes for publications that re-sign many bins (started when needed)."""
        settings = self.settings
        setup = WorkerSetup.of(
            settings.effective_database_url,
            settings.effective_storage_dir.resolve(),
            settings.online_key_uri,
            trusted,
        )
        return BinSigningPool(setup, settings.signing_workers or default_workers())

    @property
    def lock_file(self) -> Path:
        """The signer's election lock on SQLite (PostgreSQL uses an advisory lock)."""
        return self.settings.data_dir / "signer.lock"


def _witness_keys(store: MetadataStore) -> tuple[Verifier, ...]:
    """The witnesses the newest root names (read at each checkpoint: a root ceremony that
    changes them takes effect without a restart)."""
    policy = policy_of(store.root().signed.unrecognized_fields)
    return policy.witnesses if policy is not None else ()
