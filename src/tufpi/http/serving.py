"""Serve an ASGI app under uvicorn with tufpi's protocol (``protocol.py``), its limits taken
from the settings and the open-file limit, and repeated server errors logged once an
interval (``repeats.py``).
"""

from __future__ import annotations

import logging
import resource
from typing import Any

import uvicorn

from tufpi.config import Settings
from tufpi.http.limits import ServerLimits, connection_budget
from tufpi.http.protocol import protocol_class
from tufpi.http.repeats import RepeatFilter

log = logging.getLogger("tufpi.server")

# Loggers whose repeated errors are logged once an interval: asyncio's accept() failures,
# uvicorn's per-request errors, ours.
_FLOOD_PRONE_LOGGERS = ("asyncio", "uvicorn.error", "tufpi.server")
# The open-file limit taken for an unlimited RLIMIT_NOFILE.
_UNLIMITED_OPEN_FILES = 1 << 20


def open_files_limit() -> int:
    """This process's soft RLIMIT_NOFILE (a large number when it is unlimited)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _UNLIMITED_OPEN_FILES if soft == resource.RLIM_INFINITY else soft


def quiet_repeats(interval: float) -> None:
    """Log each kind of repeated server error at most once per ``interval`` seconds."""
    for name in _FLOOD_PRONE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter(interval))


def server_limits(settings: Settings) -> ServerLimits:
    """The limits ``settings`` ask for, the connection cap from this process's soft
    RLIMIT_NOFILE when ``max_connections`` is 0."""
    soft = open_files_limit()
    limits = ServerLimits.from_settings(settings, soft)
    budget = connection_budget(soft)
    if limits.max_connections > budget:
        log.warning(
            "max_connections %d is more than the open-file limit (%d) leaves room for (%d): "
            "connections past that fail at accept() (EMFILE); raise the limit (ulimit -n, "
            "systemd's LimitNOFILE=) or leave max_connections at 0",
            limits.max_connections,
            soft,
            budget,
        )
    return limits


def serve_app(app: Any, settings: Settings, log_level: str = "info") -> None:
    """Serve ``app`` on ``settings.host:settings.port`` until interrupted, with the limits
    ``settings`` ask for (``server_limits``)."""
    limits = server_limits(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_class(limits),
        log_level=log_level,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    # After Config, which configures uvicorn's loggers.
    quiet_repeats(limits.log_repeat_interval)
    log.info(
        "limits: request head %g s, body at least %d bytes/s over %g s, %d connections",
        limits.header_timeout,
        limits.body_min_rate,
        limits.body_timeout,
        limits.max_connections,
    )
    uvicorn.Server(config).run()
