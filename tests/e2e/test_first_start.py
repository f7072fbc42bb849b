"""The first start shows progress while the bins are signed: ``tufpi trust init`` and the
first ``tufpi serve`` on SQLite. Not on a terminal (a log, a journal), a plain line at the
start, every few seconds (here: a short interval, for the test) and at the end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.clients import clean_env
from tests.support.server import free_port, wait_until_serving

_LINE = re.compile(r"^signing bins: ([\d,]+) of ([\d,]+) \((\d+)%\)", re.M)


def _env(data: Path, bins: int, **more: str) -> dict[str, str]:
    return clean_env(
        TUFPI_DATA_DIR=str(data),
        TUFPI_KEYS_DIR=str(data / "keys"),
        TUFPI_BINS=str(bins),
        TUFPI_DEBUG_PROGRESS_INTERVAL="0.01",
        **more,
    )


def _counts(output: str, total: int) -> list[int]:
    found = [(int(done.replace(",", "")), int(of.replace(",", ""))) for done, of, _ in
             _LINE.findall(output)]  # fmt: skip
    assert found, output
    assert {of for _, of in found} == {total}, output
    return [done for done, _ in found]


def test_trust_init_counts_up_to_every_bin(tmp_path: Path) -> None:
    bins = 1024
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", "trust", "init"],
        env=_env(tmp_path, bins),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = _counts(result.stderr, bins)
    assert counts[0] == 0
    assert counts[-1] == bins
    assert counts == sorted(counts)
    assert len(set(counts)) >= 3, result.stderr  # at least one line between start and end
    assert "\x1b[" not in result.stderr  # no terminal control sequences in a log
    assert f"{bins} bins" in result.stdout


def test_first_serve_on_sqlite_shows_the_signing(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tufpi.cli", "serve", "--log-level", "info"],
            env=_env(tmp_path / "data", 256, TUFPI_PORT=str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}/", "tufpi serve", log=log_path)
    finally:
        process.terminate()
        process.wait(timeout=20)
    counts = _counts(log_path.read_text(), 256)
    assert counts[0] == 0
    assert counts[-1] == 256
    assert counts == sorted(counts)
