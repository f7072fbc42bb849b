"""The server limits' pure decisions (tufpi.http.limits)."""

from __future__ import annotations

from tufpi.config import Settings
from tufpi.http.limits import ServerLimits, body_progressing, connection_budget


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
