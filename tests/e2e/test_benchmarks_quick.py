"""Every benchmark runs in the suite in its ``--quick`` mode, so none can rot unnoticed
(``bench_simple.py`` crashed for weeks after ``changes.set_target`` was renamed, and
``bench_client_bytes.py`` after the fetcher's deadline moved below httpx: nothing ran them).

The figures of a quick run mean nothing; what is asserted is that each benchmark runs to the
end and prints its figures. SQLite only: the PostgreSQL URLs are not passed on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.benchmarks import BENCHMARKS, run_quick

# Each benchmark smoke-run here, and a line its figures must include.
FIGURES = {
    "bench_backsign.py": r"timestamp\.json in place after [\d.]+ s",
    "bench_checkpoints.py": r"verified 200 checkpoints in [\d.]+ s: \d+ us each",
    "bench_client_bytes.py": r"snapshot\.json: [\d,]+ B, [\d,]+ B gzip-9 on the wire",
    "bench_import.py": r"sign and publish the batch +[\d.]+ s",
    "bench_install.py": (
        r"\| small \(5 wheels\) \| warm \| tufpi install \(pip\) \| [\d.]+ \| [\d.]+x \| "
        r"[\d.]+x (met|NOT met) \|"
    ),
    "bench_log.py": r"sequenced [\d,]+ entries in [\d.]+ s: [\d,]+ entries/s",
    "bench_log_bytes.py": r"\| 63 files, empty cache \| 63 \| [\d,]+ \| [\d,]+ \| [\d,]+ \|",
    "bench_pages.py": r"\| SQLite \| search: one word \| .* \| [\d.]+x \| (met|MISSED) \|",
    "bench_mirror.py": r"\| 200kB \| file: second \| 2 \| [\d.]+ \| [\d.]+ \| [\d.]+x \|",
    "bench_publish.py": r"published p50 \d+ ms, p99 \d+ ms",
    "bench_signer_memory.py": r"signer peak RSS \d+ MiB",
    "bench_simple.py": r"\| `/simple/big-project/` \| SQLite \| pip \(JSON\) \| [\d.]+x",
    "bench_upload.py": r"median CPU per upload: current [\d.]+ ms",
}
# Smoke-run by a test of their own, with assertions about their outcome.
ELSEWHERE = {
    "bench_client_bombs.py": "test_client_bombs_benchmark.py",
    "bench_fd_flood.py": "test_upload_and_limits_benchmarks.py",
    "bench_metrics.py": "test_upload_and_limits_benchmarks.py",
    "bench_upload_bombs.py": "test_upload_and_limits_benchmarks.py",
}


def test_every_benchmark_is_smoke_run() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("bench_*.py")}
    assert scripts == set(FIGURES) | set(ELSEWHERE)
    here = Path(__file__).parent
    for script, test in ELSEWHERE.items():
        assert script in (here / test).read_text(), (script, test)


# The smoke runs are split over three modules (this one and test_benchmarks_quick_2 and
# _3), each about a minute: the suite runs one module per worker at a time, and one module
# of them all would be the last four minutes of a run on one worker.
PARTS: tuple[frozenset[str], ...] = (
    frozenset({"bench_publish.py", "bench_simple.py", "bench_checkpoints.py", "bench_pages.py"}),
    frozenset({"bench_install.py", "bench_upload.py", "bench_log.py", "bench_client_bytes.py"}),
    frozenset(
        {
            "bench_signer_memory.py",
            "bench_mirror.py",
            "bench_import.py",
            "bench_backsign.py",
            "bench_log_bytes.py",
        }
    ),
)


def test_the_parts_cover_every_smoke_run_once() -> None:
    assert sorted(name for part in PARTS for name in part) == sorted(FIGURES)


def check_quick(script: str) -> None:
    """Run ``script --quick`` and find its figures line in what it printed."""
    result = run_quick(script)
    output = result.stdout + result.stderr
    assert re.search(FIGURES[script], output), output


@pytest.mark.parametrize("script", sorted(PARTS[0]))
def test_benchmark_quick(script: str) -> None:
    check_quick(script)
