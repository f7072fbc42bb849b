"""Waiting for a signal in tests: poll a condition until it holds, or fail.

The one polling loop of the suite: tests and helpers call ``wait_until`` rather than writing
their own ``while time.monotonic() < deadline`` loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    what: str | Callable[[], str],
    timeout: float = 30,
    interval: float = 0.1,
) -> T:
    """Return ``condition()``'s first true value; fail with ``what`` (a message, or a function
    that makes one, such as a log's tail) after ``timeout`` seconds.

    The condition is always tried once more at the deadline, so a slow machine that only
    gets there late still passes when it did get there.
    """
    deadline = time.monotonic() + timeout
    while True:
        late = time.monotonic() >= deadline
        if value := condition():
            return value
        if late:
            raise AssertionError(what if isinstance(what, str) else what())
        time.sleep(interval)
