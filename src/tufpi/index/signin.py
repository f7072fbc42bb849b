"""Pure decisions of signing in on the web: the lock-out after failed attempts and a web
session's lifetime. No I/O; the time comes in as an argument (``logins`` does the rest).

Lock-out: every attempt is counted *before* its password is checked (``count_attempt``), so
that attempts made at once cannot slip past the limit while their hashes are computed; the
tenth in a row locks the account for ``LOCK_TIME`` and the count starts again. A right
password (and second factor) resets the count and lifts the lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

MAX_FAILURES = 10
LOCK_TIME = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
# A session waiting for its second factor: time enough to open an authenticator app.
PENDING_LIFETIME = dt.timedelta(minutes=10)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """What counting one more attempt decides: whether it may be checked at all, and the
    account's new count and lock."""

    allowed: bool
    failed: int
    locked_until: dt.datetime | None


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as an aware UTC time (SQLite gives back naive ones, in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether sign-in is refused at ``now``."""
    return locked_until is not None and utc(now) < utc(locked_until)


def count_attempt(failed: int, locked_until: dt.datetime | None, now: dt.datetime) -> Attempt:
    """Count one attempt against an account with ``failed`` failures in a row: refused while
    locked; otherwise allowed, and the ``MAX_FAILURES``-th in a row locks the account from
    ``now`` on (it is still checked: if right, ``succeeded`` lifts the lock)."""
    if is_locked(locked_until, now):
        return Attempt(False, failed, locked_until)
    failed = failed + 1
    if failed >= MAX_FAILURES:
        return Attempt(True, 0, now + LOCK_TIME)
    return Attempt(True, failed, None)


def lock_message(locked_until: dt.datetime) -> str:
    """What a refused sign-in says."""
    return (
        f"Too many failed sign-ins ({MAX_FAILURES} in a row): this account is locked until "
        f"{utc(locked_until):%Y-%m-%d %H:%M} UTC. Try again then, or ask an administrator."
    )


def session_expires(created: dt.datetime, complete: bool = True) -> dt.datetime:
    """When a session started at ``created`` ends (sooner while ``complete`` is False: it
    waits for the second factor)."""
    return created + (SESSION_LIFETIME if complete else PENDING_LIFETIME)


def session_live(expires: dt.datetime, now: dt.datetime) -> bool:
    """Whether a session ending at ``expires`` still counts at ``now``."""
    return utc(now) < utc(expires)
