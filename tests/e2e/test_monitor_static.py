"""``tufpi monitor --once`` as cron runs it, against a log and a TUF repository served as
static files by a real HTTP server on 127.0.0.1 (what a CDN in front of an index serves):
the log's key comes from the verified root, the exit code says what was found, and the
metrics and the fork evidence are files a person or Prometheus reads."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import run
from tests.support.payload_host import PayloadHost, serving
from tests.support.static_log import StaticLog, file_entry, publication, write_tuf_repository
from tufpi.tlog import entries

WATCH = """
[project.example-pkg]
accounts = ["alice"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StaticLog, PayloadHost]]:
    root = tmp_path_factory.mktemp("site")
    log = StaticLog(root, witnesses=2, threshold=1)
    write_tuf_repository(root, log.policy)
    with serving(root) as host:
        yield log, host


def monitor(
    host: PayloadHost, work: Path, *more: str, root: str | None = None
) -> subprocess.CompletedProcess[str]:
    (work / "watch.toml").write_text(WATCH)
    args = [
        sys.executable, "-m", "tufpi.cli", "monitor", host.url,
        "--root", root or str(host.directory / "tuf" / "1.root.json"),
        "--state", str(work / "state.json"), "--watch", str(work / "watch.toml"),
        "--metrics", str(work / "monitor.prom"), "--cache-dir", str(work / "cache"),
        "--once", *more,
    ]  # fmt: skip
    return run(args)


def test_an_unexpected_uploader_exits_1_naming_it(
    site: tuple[StaticLog, PayloadHost], tmp_path: Path
) -> None:
    log, host = site
    log.append(file_entry("example-pkg", "example_pkg-1.0.tar.gz"), publication(1))
    first = monitor(host, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "example-pkg file example_pkg-1.0.tar.gz account=alice" in first.stdout
    log.append(file_entry("example-pkg", "example_pkg-6.6.6.tar.gz", account="mallory"))
    pin = hashlib.sha256((host.directory / "tuf" / "1.root.json").read_bytes()).hexdigest()
    second = monitor(host, tmp_path, root=pin)
    assert second.returncode == 1, second.stderr
    assert "example_pkg-6.6.6.tar.gz account=mallory" in second.stdout
    assert "UNEXPECTED: added by mallory, not one of alice" in second.stdout
    assert "example_pkg-1.0.tar.gz" not in second.stdout  # reported in the first round only
    metrics = (tmp_path / "monitor.prom").read_text()
    assert 'tufpi_monitor_unexpected_events_total{project="example-pkg"} 1\n' in metrics
    assert "/tlog/checkpoint" in host.requested()


def test_a_fork_exits_2_naming_its_evidence_and_keeps_the_position(
    site: tuple[StaticLog, PayloadHost], tmp_path: Path
) -> None:
    log, host = site
    log.append(publication(10))
    assert monitor(host, tmp_path, "--from-now").returncode == 0
    state = json.loads((tmp_path / "state.json").read_text())
    honest = list(log.leaves)
    # The log's key signs another tree of the same size: a split view.
    forked = [*honest[:-1], entries.encode_entry(publication(10, seed="split"))]
    log.write_tiles(forked)
    log.write_checkpoint(forked)
    fork = monitor(host, tmp_path)
    assert fork.returncode == 2
    assert "fork: two different root hashes for the same tree size" in fork.stderr
    evidence = next(tmp_path.glob("state.json.evidence-*.txt"))
    assert str(evidence) in fork.stderr
    shown = evidence.read_text()
    assert f"log: {host.url}tlog/" in shown
    assert state["checkpoint"] in shown
    assert log.read("checkpoint").decode() in shown
    after = json.loads((tmp_path / "state.json").read_text())
    assert (after["checkpoint"], after["position"]) == (state["checkpoint"], state["position"])
    assert (
        "tufpi_monitor_verification_failures_total 1\n" in (tmp_path / "monitor.prom").read_text()
    )
    log.write_tiles(honest)  # the honest log again, for the other tests
    log.write_checkpoint(honest)


def test_a_root_that_names_no_log_or_an_index_gone_exits_2(tmp_path: Path) -> None:
    write_tuf_repository(tmp_path / "site", None)
    work = tmp_path / "work"
    work.mkdir()
    with serving(tmp_path / "site") as host:
        result = monitor(host, work)
        assert result.returncode == 2
        assert "the index's root names no transparency log (x-tufpi-tlog)" in result.stderr
        assert json.loads((work / "state.json").read_text())["checkpoint"] is None
    gone = monitor(host, work)  # the cache is bound to the root: its refresh fails
    assert gone.returncode == 2
    assert "tufpi monitor: the log could not be verified: refused: download failed" in (gone.stderr)
    metrics = (work / "monitor.prom").read_text()
    assert "tufpi_monitor_verification_failures_total 2\n" in metrics
