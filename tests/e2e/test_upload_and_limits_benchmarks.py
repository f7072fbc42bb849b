"""Smoke runs of the server-limits and upload-bomb benchmarks (``--quick``), so that they keep
working. The benchmarks serve SQLite only: their figures are about the HTTP server and archive
inspection, not the database."""

from __future__ import annotations

import ast

from tests.support.benchmarks import run_quick


def _run(name: str) -> str:
    return run_quick(name).stdout


def test_bench_metrics_quick() -> None:
    out = _run("bench_metrics.py")
    assert "current: /simple/ p99 under /metrics / under /tuf/timestamp.json:" in out


def test_bench_fd_flood_quick() -> None:
    out = _run("bench_fd_flood.py")
    assert "current:" in out
    assert "s after the flood was released" in out


def test_bench_upload_bombs_quick() -> None:
    out = _run("bench_upload_bombs.py")
    assert "current  with/without: p50 x" in out
    # Every bomb is refused: at a bound (400), or, on a machine too busy, 503; none accepted.
    answers = ast.literal_eval(out.split("bomb answers ", 1)[1].split("}", 1)[0] + "}")
    assert answers.get("400", 0) >= 1, out
    assert set(answers) <= {"400", "503", "unanswered"}, out
