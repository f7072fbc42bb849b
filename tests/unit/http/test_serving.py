"""The limits ``serve_app`` runs with, from the settings and this process's open-file limit
(tufpi.http.serving)."""

from __future__ import annotations

import logging
import resource

import pytest

from tufpi.config import Settings
from tufpi.http.limits import connection_budget
from tufpi.http.repeats import RepeatFilter
from tufpi.http.serving import open_files_limit, quiet_repeats, server_limits


def test_the_open_files_limit_is_the_soft_rlimit() -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    assert open_files_limit() == expected


def test_no_cap_set_means_what_the_open_file_limit_leaves_room_for() -> None:
    limits = server_limits(Settings(max_connections=0, header_timeout=7))
    assert limits.max_connections == connection_budget(open_files_limit())
    assert limits.header_timeout == 7


def test_a_cap_past_the_open_file_limit_is_kept_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    too_many = open_files_limit() + 1
    with caplog.at_level(logging.WARNING, logger="tufpi.server"):
        limits = server_limits(Settings(max_connections=too_many))
    assert limits.max_connections == too_many
    assert "connections past that fail at accept() (EMFILE)" in caplog.text


def test_repeats_are_quieted_once_per_logger() -> None:
    loggers = [logging.getLogger(n) for n in ("asyncio", "uvicorn.error", "tufpi.server")]
    before = {logger.name: list(logger.filters) for logger in loggers}
    try:
        quiet_repeats(60)
        quiet_repeats(60)
        for logger in loggers:
            assert len([f for f in logger.filters if isinstance(f, RepeatFilter)]) == 1
    finally:  # the loggers are the process's: leave them as they were
        for logger in loggers:
            logger.filters[:] = before[logger.name]
