"""The one wall clock: every reader of the current time gets it from here, injected where
it can be (``Services.clock``), so tests can move it. Monotonic timers for timeouts are not
wall-clock time and stay with ``time.monotonic``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

# What reads the time: returns an aware UTC datetime.
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC (the default ``Clock``)."""
    return dt.datetime.now(dt.UTC)
