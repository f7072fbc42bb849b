"""What one publication re-signs (tufpi.trust.plan)."""

from __future__ import annotations

import datetime as dt

from tufpi.trust.plan import Plan, make_plan
from tufpi.trust.policy import Policy

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
POLICY = Policy()  # online roles for a day, re-signed 6 hours before they expire
FRESH = NOW + dt.timedelta(hours=20)
DUE = NOW + dt.timedelta(hours=5)


def test_nothing_due_gives_an_empty_plan() -> None:
    plan = make_plan([], [], FRESH, FRESH, NOW, POLICY)
    assert plan == Plan(frozenset(), snapshot=False, timestamp=False)
    assert plan.empty


def test_changed_bins_force_snapshot_and_timestamp() -> None:
    plan = make_plan([3, 5, 3], [], FRESH, FRESH, NOW, POLICY)
    assert plan.bins == frozenset({3, 5})
    assert plan.snapshot
    assert plan.timestamp
    assert not plan.empty


def test_expiring_bins_are_re_signed_with_changed_ones() -> None:
    plan = make_plan([1], [1, 7], FRESH, FRESH, NOW, POLICY)
    assert plan.bins == frozenset({1, 7})
    assert plan.snapshot
    assert plan.timestamp


def test_only_expiring_bins_still_force_snapshot_and_timestamp() -> None:
    plan = make_plan([], iter([2]), FRESH, FRESH, NOW, POLICY)
    assert plan == Plan(frozenset({2}), snapshot=True, timestamp=True)


def test_only_timestamp_due_re_signs_timestamp_only() -> None:
    plan = make_plan([], [], FRESH, DUE, NOW, POLICY)
    assert plan == Plan(frozenset(), snapshot=False, timestamp=True)
    assert not plan.empty


def test_snapshot_due_re_signs_snapshot_and_timestamp() -> None:
    plan = make_plan([], [], DUE, FRESH, NOW, POLICY)
    assert plan == Plan(frozenset(), snapshot=True, timestamp=True)


def test_due_at_exactly_the_margin() -> None:
    at_margin = NOW + POLICY.resign_margin
    assert make_plan([], [], FRESH, at_margin, NOW, POLICY).timestamp
    later = at_margin + dt.timedelta(seconds=1)
    assert make_plan([], [], FRESH, later, NOW, POLICY).empty


def test_naive_expiry_from_the_database_counts_as_utc() -> None:
    naive_due = DUE.replace(tzinfo=None)
    naive_fresh = FRESH.replace(tzinfo=None)
    assert make_plan([], [], naive_fresh, naive_due, NOW, POLICY).timestamp
    assert make_plan([], [], naive_fresh, naive_fresh, NOW, POLICY).empty
