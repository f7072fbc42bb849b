"""The server limits' pure decisions (tufpi.web.limits)."""

from __future__ import annotations

import logging
import sys

from tufpi.config import Settings
from tufpi.web.limits import (
    RepeatFilter,
    RepeatGate,
    ServerLimits,
    body_progressing,
    connection_budget,
    record_kind,
)


def test_the_connection_budget_leaves_descriptors_for_everything_else() -> None:
    assert connection_budget(1024) == 1024 - 64 - 128
    assert connection_budget(128) == 48
    assert connection_budget(10) == 1  # never zero: the server must take some connection


def test_an_explicit_cap_is_kept_and_zero_means_the_budget() -> None:
    assert ServerLimits.from_settings(Settings(), 1024).max_connections == 832
    assert ServerLimits.from_settings(Settings(max_connections=5000), 1024).max_connections == 5000


def test_a_body_must_bring_a_byte_and_the_minimum_rate_each_window() -> None:
    assert not body_progressing(0, 30, 0)
    assert body_progressing(1, 30, 0)
    assert not body_progressing(14_999, 30, 500)
    assert body_progressing(15_000, 30, 500)


def test_the_gate_admits_one_event_of_a_kind_per_interval_and_counts_the_rest() -> None:
    gate = RepeatGate(60)
    assert gate.admit("emfile", 0.0) == 0
    assert [gate.admit("emfile", t) for t in (0.1, 1, 59.9)] == [None, None, None]
    assert gate.admit("other", 1) == 0  # another kind is not held back
    assert gate.admit("emfile", 60.0) == 3  # the next one says how many were dropped
    assert gate.admit("emfile", 60.1) is None


def _record(message: str, exc: BaseException | None) -> logging.LogRecord:
    info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, None, info)


def test_records_differ_by_message_exception_and_errno_not_by_details_below() -> None:
    emfile = OSError(24, "Too many open files")
    a = record_kind(_record("socket.accept() out of system resource\nsocket: fd=10", emfile))
    b = record_kind(_record("socket.accept() out of system resource\nsocket: fd=11", emfile))
    c = record_kind(_record("socket.accept() out of system resource", OSError(12, "ENOMEM")))
    assert a == b
    assert a != c


def test_the_filter_drops_repeats_and_reports_them_in_the_next_record_it_passes() -> None:
    now = [0.0]
    flood = RepeatFilter(60, clock=lambda: now[0])
    emfile = OSError(24, "Too many open files")
    passed = [flood.filter(_record("accept failed", emfile)) for _ in range(1000)]
    assert passed.count(True) == 1
    now[0] = 61.0
    record = _record("accept failed", emfile)
    assert flood.filter(record)
    assert "999 more like this in the last 60 s were not logged" in record.getMessage()
