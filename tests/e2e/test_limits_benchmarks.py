"""Smoke runs of the server-limits benchmarks (``--quick``), so that they keep working. The
benchmarks serve SQLite only: their figures are about the HTTP server, not the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.clients import clean_env

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bench_metrics_quick() -> None:
    out = _run("bench_metrics.py")
    assert "current: /simple/ p99 under /metrics / under /tuf/timestamp.json:" in out


def test_bench_fd_flood_quick() -> None:
    out = _run("bench_fd_flood.py")
    assert "current:" in out
    assert "s after the flood was released" in out
