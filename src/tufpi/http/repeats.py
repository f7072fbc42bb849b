"""Which repeated log records to drop: a storm of identical server errors (``accept()``
failing with EMFILE thousands of times a second) logged as one line an interval.

``RepeatGate`` is the pure decision (time comes in as an argument); ``RepeatFilter`` applies
it as a logging filter, which ``serving.quiet_repeats`` attaches to the server's loggers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# Kinds of log record a RepeatGate remembers before forgetting those outside the interval.
_MAX_KINDS = 1024


class RepeatGate:
    """Lets one event of each kind through per interval and counts the others.

    ``admit(key, now)`` returns None to drop the event, or the number of events of that
    kind dropped since the last one admitted.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[object, float] = {}
        self._dropped: dict[object, int] = {}

    def admit(self, key: object, now: float) -> int | None:
        """Admit (and return how many were dropped before) or drop an event of kind ``key``
        happening at ``now`` (seconds, any monotonic origin)."""
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return None
        if len(self._last) >= _MAX_KINDS:
            self._forget_before(now - self.interval)
        self._last[key] = now
        return self._dropped.pop(key, 0)

    def _forget_before(self, cutoff: float) -> None:
        for old in [k for k, t in self._last.items() if t < cutoff]:
            del self._last[old]
            self._dropped.pop(old, None)


def record_kind(record: logging.LogRecord) -> tuple[object, ...]:
    """What makes two log records "the same error": logger, level, the message's first line,
    and the exception's type, errno and innermost frame. The first line of asyncio's messages
    names the failing call without the varying details (timer handles, times) below it."""
    first_line = str(record.msg).partition("\n")[0][:200]
    exc_type, exc, tb = record.exc_info or (None, None, None)
    where: tuple[str, int] | None = None
    while tb is not None:
        where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    errno = getattr(exc, "errno", None)
    name = exc_type.__name__ if exc_type is not None else None
    return (record.name, record.levelno, first_line, name, errno, where)


class RepeatFilter(logging.Filter):
    """A logging filter that passes each kind of record (``record_kind``) at most once per
    interval, and says in the next one passed how many were dropped. Attached to the asyncio
    and uvicorn loggers, it turns a storm of identical tracebacks (``accept()`` failing with
    EMFILE thousands of times a second) into one line a minute."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._gate = RepeatGate(interval)
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        dropped = self._gate.admit(record_kind(record), self._clock())
        if dropped is None:
            return False
        if dropped:
            record.msg = (
                f"{record.getMessage()}\n({dropped} more like this in the last "
                f"{self._gate.interval:.0f} s were not logged)"
            )
            record.args = None
        return True
