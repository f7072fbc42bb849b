"""Repeated server errors logged once an interval (tufpi.http.repeats)."""

from __future__ import annotations

import logging
import sys

from tufpi.http.repeats import RepeatFilter, RepeatGate, record_kind


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
