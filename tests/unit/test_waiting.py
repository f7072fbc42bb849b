"""The suite's one polling helper, tests/support/waiting.py."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import wait_until


def test_it_returns_the_first_true_value() -> None:
    calls = itertools.count()
    assert wait_until(lambda: next(calls) >= 3 and "ready", "never", interval=0) == "ready"
    assert next(calls) == 4


def test_it_fails_with_the_message_made_at_the_deadline() -> None:
    seen: list[int] = []
    with pytest.raises(AssertionError, match="still 0 after 2 tries"):
        wait_until(
            lambda: seen.append(0),
            lambda: f"still 0 after {len(seen)} tries",
            timeout=0.05,
            interval=0.1,
        )


def test_the_condition_is_tried_once_more_after_the_deadline() -> None:
    """A machine slow enough to sleep past the deadline still gets its last look."""
    tries: list[None] = []
    assert wait_until(
        lambda: tries.append(None) or len(tries) == 2, "never", timeout=0.05, interval=0.1
    )
