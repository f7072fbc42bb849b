"""``tufpi trust init``: sign the first metadata of every role (PEP 458).

Root, targets and bins are signed here with the keys given (the development key set, or in
production keys brought to a ceremony); bin-n, snapshot and timestamp with the online key.
Targets already in the database (back-signing) go into the first bins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from securesystemslib.signer import Key, Signer
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from tufpi.db.models import TargetChange, TrustConfig
from tufpi.keys.dev import DevKeys
from tufpi.storage import Storage
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy
from tufpi.trust import layout, roles, state
from tufpi.trust.bins import Checkpoint, sign_bins
from tufpi.trust.bulk import Progress
from tufpi.trust.policy import Policy
from tufpi.trust.store import MetadataStore

# Root signatures the development key set's root requires (of its three root keys).
DEV_ROOT_THRESHOLD = 2


class AlreadyInitialised(Exception):
    """The repository already has signed metadata."""


def dev_keyset(keys: DevKeys, online: Key | None = None) -> roles.KeySet:
    """The roles' keys and thresholds of the development key set: 2 of its 3 root keys, one
    key each for targets and bins; the online role's key is ``online`` when given (a real
    online key, for example ``hsm:``, beside development offline keys)."""
    return roles.KeySet(
        root=[s.public_key for s in keys.root],
        root_threshold=DEV_ROOT_THRESHOLD,
        targets=[keys.targets.public_key],
        targets_threshold=1,
        bins=[keys.bins.public_key],
        bins_threshold=1,
        online=[online or keys.online.public_key],
    )


@dataclasses.dataclass(frozen=True)
class OfflineSigners:
    """Signers for the offline roles, each list meeting its role's threshold."""

    root: Sequence[Signer]
    targets: Sequence[Signer]
    bins: Sequence[Signer]


@dataclasses.dataclass(frozen=True)
class InitResult:
    root_sha256: str
    number_of_bins: int
    targets: int


def _sign_all(md: Metadata[Any], signers: Sequence[Signer]) -> None:
    for signer in signers:
        md.sign(signer, append=True)


def _bins_signed(progress: Progress | None) -> Checkpoint:
    """``sign_bins``'s checkpoint, telling ``progress`` of each bin signed."""

    def passed(name: str) -> None:
        if progress is not None and name == "bin":
            progress(1)

    return passed


def initialise(
    sessions: sessionmaker[Session],
    storage: Storage,
    keys: roles.KeySet,
    offline: OfflineSigners,
    online: Signer,
    number_of_bins: int,
    policy: Policy,
    now: dt.datetime,
    progress: Progress | None = None,
    log: LogPolicy | None = None,
) -> InitResult:
    """Write version 1 of every role and record the configuration.

    ``progress`` is told of each bin-n signed (with 1). They are signed in this process:
    16,384 empty bins take about 2 s of CPU, less than starting the signing pool's worker
    processes costs (``trust.bulk``, which ``tufpi trust publish --all`` uses to back-sign).
    ``log``: the transparency log the root pins (``x-tufpi-tlog``); None for none.

    Raises:
        AlreadyInitialised: the database already has a trust configuration.
        ValueError: ``number_of_bins`` is not a power of two.
    """
    layout.bit_length(number_of_bins)
    with sessions() as session:
        if state.number_of_bins(session) is not None:
            raise AlreadyInitialised("the repository metadata is already initialised")
    store = MetadataStore(storage)
    offline_expires = policy.offline_expires(now)
    online_expires = policy.online_expires(now)

    with sessions() as session:
        bin_versions = sign_bins(
            session,
            store,
            online,
            range(number_of_bins),
            number_of_bins,
            {},
            online_expires,
            _bins_signed(progress),
        )
        targets_count = state.count_targets(session)
    storage.sync()
    targets = roles.new_targets(keys, offline_expires)
    _sign_all(targets, offline.targets)
    store.write_versioned(Targets.type, targets)
    bins = roles.new_bins(keys, number_of_bins, offline_expires)
    _sign_all(bins, offline.bins)
    store.write_versioned(roles.BINS_ROLE, bins)
    snapshot = roles.first_snapshot(
        online_expires, {Targets.type: 1, roles.BINS_ROLE: 1, **bin_versions}
    )
    snapshot.sign(online)
    snapshot_bytes = store.write_versioned(Snapshot.type, snapshot)
    root: Metadata[Root] = roles.new_root(keys, offline_expires)
    if log is not None:
        root.signed.unrecognized_fields[ROOT_FIELD] = log.to_field()
    _sign_all(root, offline.root)
    root_bytes = store.write_root(root)
    timestamp = roles.next_timestamp(None, online_expires, 1, snapshot_bytes)
    timestamp.sign(online)
    store.write_timestamp(timestamp)

    with sessions.begin() as session:
        session.add(TrustConfig(number_of_bins=number_of_bins, initialised=now))
        session.execute(
            update(TargetChange)
            .where(TargetChange.published_version.is_(None))
            .values(published_version=1, published_at=now)
        )
        online_states = [(name, 1, online_expires) for name in bin_versions]
        online_states += [(Snapshot.type, 1, online_expires), (Timestamp.type, 1, online_expires)]
        state.save_role_states(session, online_states, now)
    return InitResult(hashlib.sha256(root_bytes).hexdigest(), number_of_bins, targets_count)
