"""Expiry and re-signing policy (tufpi.trust.policy)."""

from __future__ import annotations

import datetime as dt

import pytest

from tufpi.trust.policy import DAY, YEAR, Policy

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def test_pep_458_defaults() -> None:
    policy = Policy()
    assert policy.online_expiry == DAY
    assert policy.offline_expiry == YEAR
    assert policy.resign_margin == 6 * HOUR
    assert policy.sweep_grace == HOUR


def test_expiry_is_in_whole_seconds() -> None:
    policy = Policy()
    assert policy.online_expires(NOW) == NOW.replace(microsecond=0) + DAY
    assert policy.offline_expires(NOW) == NOW.replace(microsecond=0) + YEAR


def test_is_due_at_the_boundary() -> None:
    policy = Policy(online_expiry=DAY, resign_margin=6 * HOUR)
    expires = NOW + DAY
    boundary = expires - 6 * HOUR
    assert not policy.is_due(expires, boundary - dt.timedelta(microseconds=1))
    assert policy.is_due(expires, boundary)
    assert policy.is_due(expires, boundary + dt.timedelta(seconds=1))
    assert policy.is_due(expires, expires + DAY)  # already expired


def test_naive_expiry_is_read_as_utc() -> None:
    # SQLite hands datetimes back naive; they are UTC.
    policy = Policy(resign_margin=HOUR)
    naive = dt.datetime(2025, 3, 1, 13, 0, 0)
    assert policy.is_due(naive, dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC))
    assert not policy.is_due(naive, dt.datetime(2025, 3, 1, 11, 59, 59, tzinfo=dt.UTC))
    # The same instant in another zone compares as the instant it is.
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert policy.is_due(naive, dt.datetime(2025, 3, 1, 14, 0, 0, tzinfo=plus_two))
    assert not policy.is_due(naive, dt.datetime(2025, 3, 1, 13, 59, 0, tzinfo=plus_two))


@pytest.mark.parametrize("margin", [DAY, DAY + HOUR])
def test_margin_not_shorter_than_online_expiry_is_refused(margin: dt.timedelta) -> None:
    with pytest.raises(ValueError, match="margin"):
        Policy(online_expiry=DAY, resign_margin=margin)


def test_margin_just_under_the_expiry_is_accepted() -> None:
    policy = Policy(online_expiry=DAY, resign_margin=DAY - dt.timedelta(seconds=1))
    assert policy.resign_margin < policy.online_expiry
