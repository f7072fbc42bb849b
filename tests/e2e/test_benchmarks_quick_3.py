"""Part 3 of the benchmarks' smoke runs (see ``test_benchmarks_quick.py``)."""

from __future__ import annotations

import pytest

from tests.e2e.test_benchmarks_quick import PARTS, check_quick


@pytest.mark.parametrize("script", sorted(PARTS[2]))
def test_benchmark_quick(script: str) -> None:
    check_quick(script)
