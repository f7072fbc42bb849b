"""Build the PEP 458 roles with python-tuf's Metadata API (pure: keys and times come in).

root -> targets -> bins -> bin-n (TAP 15 succinct delegation), plus snapshot and timestamp.
Signing happens outside, so the same objects serve a key ceremony and the online signer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from securesystemslib.signer import Key
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from tufpi.trust import layout

BINS_ROLE = "bins"


@dataclasses.dataclass(frozen=True)
class KeySet:
    """Public keys and thresholds of every role."""

    root: list[Key]
    root_threshold: int
    targets: list[Key]
    targets_threshold: int
    bins: list[Key]
    bins_threshold: int
    online: list[Key]  # timestamp, snapshot and every bin-n


class TargetRow(NamedTuple):
    """One target as the database holds it (a tuple: back-signing makes millions)."""

    path: str
    length: int
    sha256: str
    sha512: str | None  # None: a mirrored file not held yet (sha256 only)


def new_root(keys: KeySet, expires: dt.datetime) -> Metadata[Root]:
    """Root version 1, with consistent snapshots on."""
    root = Root(version=1, expires=expires, consistent_snapshot=True)
    grants = {
        Root.type: (keys.root, keys.root_threshold),
        Targets.type: (keys.targets, keys.targets_threshold),
        Snapshot.type: (keys.online, 1),
        Timestamp.type: (keys.online, 1),
    }
    for role, (role_keys, threshold) in grants.items():
        for key in role_keys:
            root.add_key(key, role)
        root.roles[role].threshold = threshold
    return Metadata(root)


def new_targets(keys: KeySet, expires: dt.datetime) -> Metadata[Targets]:
    """Top-level targets: signs only the delegation to ``bins`` (PEP 480 adds roles later)."""
    bins = DelegatedRole(
        name=BINS_ROLE,
        keyids=[k.keyid for k in keys.bins],
        threshold=keys.bins_threshold,
        terminating=True,
        paths=list(layout.DELEGATED_PATHS),
    )
    delegations = Delegations(keys={k.keyid: k for k in keys.bins}, roles={BINS_ROLE: bins})
    return Metadata(Targets(version=1, expires=expires, delegations=delegations))


def new_bins(keys: KeySet, number_of_bins: int, expires: dt.datetime) -> Metadata[Targets]:
    """The ``bins`` role: a succinct delegation of every target path to the bin-n roles."""
    succinct = layout.succinct_roles([k.keyid for k in keys.online], number_of_bins)
    delegations = Delegations(keys={k.keyid: k for k in keys.online}, succinct_roles=succinct)
    return Metadata(Targets(version=1, expires=expires, delegations=delegations))


def bin_role(
    version: int, expires: dt.datetime, rows: Iterable[Sequence[Any]]
) -> Metadata[Targets]:
    """A bin-n role listing ``rows`` (sha256 and sha512 hashes, as PEP 458 recommends).

    Each row is a ``TargetRow`` or any sequence starting with the same four fields (path,
    length, sha256, sha512), such as a database row: back-signing passes millions. A row
    without sha512 (a mirrored file not held yet) lists its sha256 alone.
    """
    targets = {
        row[0]: TargetFile(
            row[1],
            {"sha256": row[2], "sha512": row[3]} if row[3] is not None else {"sha256": row[2]},
            row[0],
        )
        for row in rows
    }
    return Metadata(Targets(version=version, expires=expires, targets=targets))


def first_snapshot(
    expires: dt.datetime, versions: Mapping[str, int], version: int = 1
) -> Metadata[Snapshot]:
    """A snapshot listing exactly ``versions`` (role name -> version): the first one, or one
    rebuilt from scratch (recovery)."""
    meta = {f"{role}.json": MetaFile(version=v) for role, v in versions.items()}
    return Metadata(Snapshot(version=version, expires=expires, meta=meta))


def next_snapshot(
    current: Snapshot, expires: dt.datetime, changed: Mapping[str, int]
) -> Metadata[Snapshot]:
    """The snapshot after ``current``, with ``changed`` role versions (role name -> version)."""
    meta = dict(current.meta)
    for role, version in changed.items():
        meta[f"{role}.json"] = MetaFile(version=version)
    return Metadata(Snapshot(version=current.version + 1, expires=expires, meta=meta))


def next_timestamp(
    current: Timestamp | None, expires: dt.datetime, snapshot_version: int, snapshot_bytes: bytes
) -> Metadata[Timestamp]:
    """The timestamp pointing at snapshot ``snapshot_version`` (its length and hashes too)."""
    meta = MetaFile.from_data(snapshot_version, snapshot_bytes, ["sha256", "sha512"])
    version = 1 if current is None else current.version + 1
    return Metadata(Timestamp(version=version, expires=expires, snapshot_meta=meta))


def online_keys(root: Root) -> list[Key]:
    """The keys root trusts for timestamp (and so, in tufpi, for every online role)."""
    role: Role = root.roles[Timestamp.type]
    return [root.keys[keyid] for keyid in role.keyids]
