"""The deadline under httpx: each network operation is clamped to what the request has left."""

from __future__ import annotations

import time

import pytest

from tufpi.http import deadline


def test_the_deadline_clamps_each_operation() -> None:
    token = deadline._DEADLINE.set(None)
    try:
        assert deadline._clamp(5.0, TimeoutError) == 5.0
    finally:
        deadline._DEADLINE.reset(token)
    token = deadline._DEADLINE.set(time.monotonic() + 1.0)
    try:
        clamped = deadline._clamp(5.0, TimeoutError)
        assert clamped is not None
        assert 0 < clamped <= 1.0
        assert deadline._clamp(0.5, TimeoutError) == 0.5
    finally:
        deadline._DEADLINE.reset(token)
    token = deadline._DEADLINE.set(time.monotonic() - 0.1)
    try:
        with pytest.raises(TimeoutError, match="past the download's deadline"):
            deadline._clamp(None, TimeoutError)
    finally:
        deadline._DEADLINE.reset(token)
