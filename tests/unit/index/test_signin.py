"""The lock-out and the session lifetime, at chosen times (``index.signin``)."""

from __future__ import annotations

import datetime as dt

from tufpi.index import signin

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_the_tenth_failure_in_a_row_locks_for_fifteen_minutes() -> None:
    failed, locked = 0, None
    for _ in range(signin.MAX_FAILURES - 1):
        attempt = signin.count_attempt(failed, locked, T0)
        assert attempt.allowed
        assert attempt.locked_until is None
        failed, locked = attempt.failed, attempt.locked_until
    tenth = signin.count_attempt(failed, locked, T0)
    assert tenth.allowed  # still checked: a right password lifts the lock
    assert tenth.locked_until == T0 + dt.timedelta(minutes=15)
    # While locked, an attempt is refused without being checked (no password hash spent).
    during = signin.count_attempt(tenth.failed, tenth.locked_until, T0 + dt.timedelta(minutes=14))
    assert not during.allowed
    assert during.locked_until == tenth.locked_until
    assert signin.is_locked(tenth.locked_until, T0 + dt.timedelta(minutes=14, seconds=59))
    # After the lock, the count starts again from zero.
    after = signin.count_attempt(tenth.failed, tenth.locked_until, T0 + dt.timedelta(minutes=15))
    assert after.allowed
    assert after.failed == 1
    assert after.locked_until is None


def test_naive_times_from_sqlite_are_utc() -> None:
    naive = (T0 + dt.timedelta(minutes=1)).replace(tzinfo=None)
    assert signin.is_locked(naive, T0)
    assert not signin.is_locked(naive, T0 + dt.timedelta(minutes=2))
    assert "2026-12-07 12:01 UTC" in signin.lock_message(naive)


def test_a_session_lasts_twelve_hours() -> None:
    expires = signin.session_expires(T0)
    assert signin.session_live(expires, T0 + dt.timedelta(hours=11, minutes=59))
    assert not signin.session_live(expires, T0 + dt.timedelta(hours=12))


def test_a_session_waiting_for_its_second_factor_lasts_ten_minutes() -> None:
    expires = signin.session_expires(T0, complete=False)
    assert signin.session_live(expires, T0 + dt.timedelta(minutes=9))
    assert not signin.session_live(expires, T0 + dt.timedelta(minutes=10))
