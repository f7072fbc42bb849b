"""Propose the next offline metadata from the repository's, and bring it back signed (from
a key ceremony) into the repository.

A new root is published at once as ``N.root.json`` (clients walk to it on their next
refresh); a new ``targets`` or ``bins`` is written as ``N.ROLE.json`` and recorded, and the
signer lists it in its next snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Metadata, Root, Snapshot, Targets

from tufpi.storage import Storage
from tufpi.trust import layout, state
from tufpi.trust.ceremony import (
    CeremonyError,
    KeyChanges,
    Proposal,
    check,
    propose_renewal,
    propose_root,
)
from tufpi.trust.roles import BINS_ROLE
from tufpi.trust.store import MetadataStore


def current(store: MetadataStore) -> tuple[Root, Targets, Targets]:
    """The repository's current root, targets and bins."""
    root = store.root().signed
    snapshot = store.snapshot(store.timestamp().signed.snapshot_meta.version).signed
    targets = store.read(Targets.type, _newest(store, Targets.type, snapshot)).signed
    bins = store.read(BINS_ROLE, _newest(store, BINS_ROLE, snapshot)).signed
    return root, targets, bins


def _newest(store: MetadataStore, role: str, snapshot: Snapshot) -> int:
    """The newest version of an offline role: the one the snapshot lists, or one imported
    since (written by ``import_signed``, not yet listed by the signer)."""
    version = snapshot.meta[f"{role}.json"].version
    while store.storage.exists(layout.metadata_key(role, version + 1)):
        version += 1
    return version


def import_signed(
    sessions: sessionmaker[Session],
    storage: Storage,
    role: str,
    md: Metadata[Any],
    now: dt.datetime,
) -> int:
    """Verify ``md`` against the repository's trust and publish it; returns its version.

    Raises:
        CeremonyError: python-tuf's checks fail (thresholds, version, expiry).
    """
    store = MetadataStore(storage)
    root, targets, bins = current(store)
    versions = {Root.type: root.version, Targets.type: targets.version, BINS_ROLE: bins.version}
    check(role, md, root, targets, versions[role], now)
    version: int = md.signed.version
    if role == Root.type:
        store.write_root(md)
        return version
    new_count = _number_of_bins(md) if role == BINS_ROLE else None
    store.write_versioned(role, md)
    with sessions.begin() as session:
        state.save_role_states(session, [(role, version, md.signed.expires)], now)
        if new_count is not None and new_count != state.number_of_bins(session):
            # Every target moves to its new bin; `tufpi trust rebuild` then publishes them.
            state.rebin(session, new_count, now)
    return version


def _number_of_bins(md: Metadata[Any]) -> int | None:
    delegations = md.signed.delegations
    succinct = delegations.succinct_roles if delegations is not None else None
    return int(succinct.number_of_bins) if succinct is not None else None


def signed_by(store: MetadataStore, keyids: Sequence[str]) -> list[str]:
    """The published online roles (timestamp, snapshot, bin-n) bearing a signature by one of
    ``keyids``: before a key leaves root and bins, nothing may still depend on it."""
    wanted = set(keyids)
    timestamp = store.timestamp()
    snapshot = store.snapshot(timestamp.signed.snapshot_meta.version)
    found = [
        name
        for name, md in (("timestamp", timestamp), ("snapshot", snapshot))
        if wanted & set(md.signatures)
    ]
    for filename, meta in snapshot.signed.meta.items():
        name = filename.removesuffix(".json")
        if name.startswith(layout.BIN_PREFIX + "-"):
            md = store.read(name, meta.version)
            if wanted & set(md.signatures):
                found.append(name)
    return found


def propose(
    store: MetadataStore,
    role: str,
    now: dt.datetime,
    expires_days: int,
    changes: KeyChanges,
    compromised: bool = False,
) -> Proposal:
    """The unsigned next version of ``role`` (root, targets or bins) from the repository's
    current one, with ``changes``.

    An online key to remove must no longer sign any published role (the signer re-signs
    with the new key first), unless it leaked (``compromised``: the recovery follows).

    Raises:
        CeremonyError: a change that cannot be made, or a key to remove still in use.
    """
    root, targets, bins = current(store)
    if changes.remove_online and not compromised:
        still_signed = signed_by(store, changes.remove_online)
        if still_signed:
            raise CeremonyError(
                f"{len(still_signed)} published role(s), {still_signed[0]} among them, are "
                "still signed by a key to remove: run the signer with the new key and "
                "`tufpi trust resign` first"
            )
    if role == Root.type:
        return propose_root(root, now, expires_days, changes)
    base = targets if role == Targets.type else bins
    return propose_renewal(role, base, now, expires_days, changes)
