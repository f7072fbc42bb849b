"""Decide what one publication re-signs (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from tufpi.trust.policy import Policy


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a publication signs: some bins, then snapshot, then timestamp."""

    bins: frozenset[int]
    snapshot: bool
    timestamp: bool

    @property
    def empty(self) -> bool:
        return not (self.bins or self.snapshot or self.timestamp)


def make_plan(
    changed_bins: Iterable[int],
    expiring_bins: Iterable[int],
    snapshot_expires: dt.datetime,
    timestamp_expires: dt.datetime,
    now: dt.datetime,
    policy: Policy,
    offline_changed: bool = False,
) -> Plan:
    """Bins with pending changes or close to expiry are re-signed; any new bin (or a targets
    or bins role imported from a ceremony) needs a new snapshot, and any new snapshot a new
    timestamp (PEP 458: bin-n, snapshot, timestamp)."""
    bins = frozenset(changed_bins) | frozenset(expiring_bins)
    snapshot = bool(bins) or offline_changed or policy.is_due(snapshot_expires, now)
    timestamp = snapshot or policy.is_due(timestamp_expires, now)
    return Plan(bins, snapshot, timestamp)
