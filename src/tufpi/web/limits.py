"""The HTTP server's limits, as pure decisions: how many connections the open-file limit
allows, whether a request body is arriving fast enough, and which repeated log lines to drop.

``server.py`` applies them to uvicorn's h11 protocol and to the loggers; nothing here does
I/O or reads the clock (time comes in as an argument).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from tufpi.config import Settings

# Kinds of log record a RepeatGate remembers before forgetting those outside the interval.
_MAX_KINDS = 1024
# File descriptors kept apart from connections: the database pool, SQLite's files, stored
# files being read or written by the thread pool, the signer child's pipes, the log.
_RESERVED_FDS = 64


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    """What ``tufpi serve`` allows a connection (see docs/configuration.md).

    Attributes:
        header_timeout: seconds a client has to send a whole request head, counted from the
            connection or from the end of the previous response.
        body_timeout: seconds of a window in which a request body must make progress.
        body_min_rate: bytes per second a body must average over each window (at least one
            byte a window).
        max_connections: open connections at most; past it, the connection waiting longest
            for its request head is closed, or (none waiting) the new one gets a 503.
        log_repeat_interval: seconds in which one kind of repeated error is logged once.
    """

    header_timeout: float
    body_timeout: float
    body_min_rate: int
    max_connections: int
    log_repeat_interval: float

    @classmethod
    def from_settings(cls, settings: Settings, open_files_limit: int) -> ServerLimits:
        """The limits ``settings`` ask for; ``max_connections`` 0 means what
        ``open_files_limit`` (the soft RLIMIT_NOFILE) allows."""
        return cls(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            body_min_rate=settings.body_min_rate,
            max_connections=settings.max_connections or connection_budget(open_files_limit),
            log_repeat_interval=settings.log_repeat_interval,
        )


def connection_budget(open_files_limit: int) -> int:
    """Connections that fit under the open-file limit with room for everything else the
    process opens (64 descriptors plus an eighth of the limit), so that ``accept()`` does not
    fail with EMFILE because of connections."""
    return max(1, open_files_limit - _RESERVED_FDS - open_files_limit // 8)


def body_progressing(received: int, window: float, min_rate: int) -> bool:
    """Whether ``received`` bytes in a window of ``window`` seconds is enough progress: at
    least one byte, and at least ``min_rate`` bytes a second on average."""
    return received >= max(1, int(min_rate * window))


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
