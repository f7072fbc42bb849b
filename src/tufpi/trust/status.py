"""The repository's state at a glance, for ``tufpi trust status`` and ``/metrics``.

``gather`` reads storage and the database; ``expiry_warnings`` and ``prometheus`` are pure.
``gather`` parses the snapshot (16,384 bins: about 100 ms of CPU), so ``/metrics`` keeps its
result (``CachedStatus``) until ``publication_key`` changes or it grows old (``is_fresh``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Root

from tufpi.db.models import RoleState, TargetChange
from tufpi.storage import Storage
from tufpi.trust import layout, state
from tufpi.trust.offline import current
from tufpi.trust.policy import aware
from tufpi.trust.store import MetadataStore

OFFLINE = ("root", "targets", "bins")


@dataclasses.dataclass(frozen=True)
class RoleLine:
    name: str
    version: int
    expires: dt.datetime


@dataclasses.dataclass(frozen=True)
class RepositoryStatus:
    root_fingerprint: str
    roles: tuple[RoleLine, ...]  # root, targets, bins, the first bin-n to expire, snapshot, ...
    number_of_bins: int
    pending_changes: int
    last_publication: dt.datetime | None


def root_fingerprint(storage: Storage) -> str:
    """The index's root fingerprint: the sha256 (hex) of its first root, ``1.root.json``,
    which ``tufpi install --root-sha256`` pins. It never changes for an index: a new root
    is trusted by the signatures of the one before, back to this one.

    Raises:
        FileNotFoundError: the signed metadata is not initialised.
    """
    return hashlib.sha256(MetadataStore(storage).read_bytes(Root.type, 1)).hexdigest()


def gather(sessions: sessionmaker[Session], storage: Storage) -> RepositoryStatus:
    """Read the published metadata and the signer's bookkeeping."""
    store = MetadataStore(storage)
    fingerprint = root_fingerprint(storage)
    timestamp = store.timestamp().signed
    snapshot = store.snapshot(timestamp.snapshot_meta.version).signed
    root, targets, bins = current(store)
    with sessions() as session:
        number = state.number_of_bins(session) or 0
        first_bin = session.execute(
            select(RoleState.version, RoleState.expires)
            .where(RoleState.name.like(f"{layout.BIN_PREFIX}-%"))
            .order_by(RoleState.expires)
            .limit(1)
        ).first()
        pending = session.scalar(
            select(func.count())
            .select_from(TargetChange)
            .where(TargetChange.published_version.is_(None))
        )
        # Through the index on published_version (its max, then one of its rows: a
        # publication gives all its changes one time), not a scan of the whole log:
        # /metrics asks this on every scrape.
        newest = select(func.max(TargetChange.published_version)).scalar_subquery()
        last = session.scalar(
            select(TargetChange.published_at)
            .where(TargetChange.published_version == newest)
            .limit(1)
        )
    lines = [
        RoleLine("root", root.version, root.expires),
        RoleLine("targets", targets.version, targets.expires),
        RoleLine("bins", bins.version, bins.expires),
    ]
    if first_bin is not None:
        lines.append(RoleLine("bin-n", first_bin[0], aware(first_bin[1])))
    lines += [
        RoleLine("snapshot", snapshot.version, snapshot.expires),
        RoleLine("timestamp", timestamp.version, timestamp.expires),
    ]
    return RepositoryStatus(
        fingerprint,
        tuple(lines),
        number,
        int(pending or 0),
        aware(last) if last is not None else None,
    )


@dataclasses.dataclass(frozen=True)
class CachedStatus:
    """A gathered status, with the publication it was gathered at and when (monotonic s)."""

    key: bytes
    status: RepositoryStatus
    gathered_at: float


def publication_key(storage: Storage) -> bytes:
    """A cheap fingerprint of what is published: the sha256 of ``timestamp.json``, which
    every publication (new bins, a new snapshot, the re-signing of expiring roles) replaces.
    A new root from a ceremony is the one change it misses, until the next publication."""
    return hashlib.sha256(MetadataStore(storage).read_bytes("timestamp")).digest()


def is_fresh(cached: CachedStatus | None, key: bytes, now: float, max_age: float) -> bool:
    """Whether ``cached`` still describes the repository: gathered at publication ``key``,
    less than ``max_age`` seconds before ``now`` (the pending queue and a new root change
    without a publication)."""
    return cached is not None and cached.key == key and now - cached.gathered_at < max_age


def expiry_warnings(status: RepositoryStatus, now: dt.datetime, warn_days: int) -> list[str]:
    """Offline roles expiring within ``warn_days`` (they need a ceremony), and any role
    already expired."""
    warnings = []
    for line in status.roles:
        left = line.expires - now
        if left <= dt.timedelta(0):
            warnings.append(f"{line.name} EXPIRED at {line.expires:%Y-%m-%d %H:%M:%S}Z")
        elif line.name in OFFLINE and left <= dt.timedelta(days=warn_days):
            warnings.append(
                f"{line.name} expires in {left.days} days ({line.expires:%Y-%m-%d}): "
                "prepare a ceremony (`tufpi ceremony propose`)"
            )
    return warnings


def prometheus(status: RepositoryStatus, now: dt.datetime) -> str:
    """The Prometheus text exposition format."""
    out = [
        "# HELP tufpi_role_expiry_seconds Seconds until a role's metadata expires.",
        "# TYPE tufpi_role_expiry_seconds gauge",
    ]
    out += [
        f'tufpi_role_expiry_seconds{{role="{line.name}"}} '
        f"{(line.expires - now).total_seconds():.0f}"
        for line in status.roles
    ]
    out += [
        "# HELP tufpi_role_version The version of a role's current metadata.",
        "# TYPE tufpi_role_version gauge",
    ]
    out += [f'tufpi_role_version{{role="{line.name}"}} {line.version}' for line in status.roles]
    out += [
        "# HELP tufpi_pending_changes Target changes not yet in a published snapshot.",
        "# TYPE tufpi_pending_changes gauge",
        f"tufpi_pending_changes {status.pending_changes}",
        "# HELP tufpi_last_publication_timestamp_seconds When a change was last published.",
        "# TYPE tufpi_last_publication_timestamp_seconds gauge",
        f"tufpi_last_publication_timestamp_seconds "
        f"{status.last_publication.timestamp() if status.last_publication else 0:.0f}",
    ]
    return "\n".join(out) + "\n"
