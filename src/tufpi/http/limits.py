"""The HTTP server's limits, as pure decisions: how many connections the open-file limit
allows, and whether a request body is arriving fast enough.

``protocol.py`` applies them to uvicorn's h11 protocol; nothing here does I/O or reads the
clock (time comes in as an argument).
"""

from __future__ import annotations

import dataclasses

from tufpi.config import Settings

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
