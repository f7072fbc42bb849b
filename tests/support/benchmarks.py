"""Smoke runs of the benchmarks (``--quick``) from the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.clients import clean_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# Not passed on: a quick run is SQLite only.
_POSTGRES_URLS = ("TUFPI_BENCH_POSTGRES_URL", "TUFPI_TEST_POSTGRES_URL")


def run_quick(script: str) -> subprocess.CompletedProcess[str]:
    """``benchmarks/SCRIPT --quick``, run to the end (asserted), without the pip settings
    of this machine or a PostgreSQL URL."""
    env = {k: v for k, v in clean_env().items() if k not in _POSTGRES_URLS}
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result
