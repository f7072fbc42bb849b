"""Smoke run of the client-bomb benchmark (``--quick``): the verifying client facing a 2 GiB
decompression bomb for each kind of download stays under 200 MB and refuses it quickly. No
database: the figures are about the client's fetcher."""

from __future__ import annotations

import re
import time

from tests.support.benchmarks import run_quick


def test_bench_client_bombs_quick() -> None:
    started = time.monotonic()
    out = run_quick("bench_client_bombs.py").stdout
    said = re.search(
        r"current: worst bomb peak ([\d.]+) MB \(bound 200 MB\), worst bomb time ([\d.]+) s, "
        r"bombs refused (\d+)/(\d+)",
        out,
    )
    assert said is not None, out
    assert float(said[1]) < 200, out
    assert float(said[2]) < 10, out  # each bomb refused in seconds, not after inflating 2 GiB
    assert said[3] == said[4] == "6", out
    rows = re.findall(r"^(timestamp|snapshot|bin|page|file|core-metadata) .* TooLong$", out, re.M)
    assert len(rows) == 6, out
    # The same bomb read as the client's side reads once did (plain httpx, whole): past the
    # bound by far, stopped only by the benchmark's 1 GiB address-space cap.
    naive = re.search(r"baseline: plain httpx .*: [\d.]+ s, peak ([\d.]+) MB, (\w+);", out)
    assert naive is not None, out
    assert float(naive[1]) > 2 * 200 or naive[2] == "MemoryError", out
    assert time.monotonic() - started < 300
