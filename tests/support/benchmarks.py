"""Smoke runs of the benchmarks (``--quick``) from the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.clients import clean_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# Not passed on: a quick run is SQLite only.
_POSTGRES_URLS = ("TUFPI_BENCH_POSTGRES_URL", "TUFPI_TEST_POSTGRES_URL")
QUICK_TIMEOUT = 600


def _text(error: subprocess.TimeoutExpired) -> str:
    parts = (error.stdout, error.stderr)
    return "".join(p.decode(errors="replace") if isinstance(p, bytes) else p or "" for p in parts)


def run_quick(script: str) -> subprocess.CompletedProcess[str]:
    """``benchmarks/SCRIPT --quick``, run to the end (asserted), without the pip settings
    of this machine or a PostgreSQL URL."""
    env = {k: v for k, v in clean_env().items() if k not in _POSTGRES_URLS}
    try:
        result = subprocess.run(
            [sys.executable, str(BENCHMARKS / script), "--quick"],
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired as e:  # say where it was, not only that it took too long
        raise AssertionError(f"{script} --quick ran over {QUICK_TIMEOUT} s:\n{_text(e)}") from e
    assert result.returncode == 0, result.stdout + result.stderr
    return result
