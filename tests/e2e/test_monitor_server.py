"""``tufpi monitor`` against a real ``tufpi serve``, pinned to the index's first root (as
`tufpi pin` prints it): twine uploads by an account the watch list does not name, then a
yank by the index's operators, each reported UNEXPECTED with exit 1, naming who did it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.server import IndexServer
from tests.support.tuf_client import upload_and_wait
from tests.support.waiting import wait_until

WATCH = """
[project.mon-alice]
accounts = ["alice"]

[project.mon-squat]
accounts = ["alice"]
"""


@pytest.fixture(scope="module")
def database_url() -> None:
    """The monitor reads the index over HTTP only: SQLite is enough."""
    return


def _monitor(server: IndexServer, work: Path, pin: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable, "-m", "tufpi.cli", "monitor", server.url, "--root", pin,
        "--state", str(work / "state.json"), "--watch", str(work / "watch.toml"),
        "--metrics", str(work / "monitor.prom"), "--cache-dir", str(work / "cache"), "--once",
    ]  # fmt: skip
    return clients.run(args)


def test_an_upload_by_an_unexpected_account_exits_1_naming_it(
    index_server: IndexServer, workdir: Path
) -> None:
    (workdir / "watch.toml").write_text(WATCH)
    pin = hashlib.sha256(httpx.get(f"{index_server.url}tuf/1.root.json").content).hexdigest()
    # Another account takes a watched name (a squatted project, or a stolen account).
    upload_and_wait(index_server, workdir, index_server.new_user("mallory"), "mon-squat")
    second = _monitor(index_server, workdir, pin)
    assert second.returncode == 1, second.stdout + second.stderr
    unexpected = [line for line in second.stdout.splitlines() if "UNEXPECTED" in line]
    assert len(unexpected) == 2  # its sdist and its wheel
    for line in unexpected:
        assert " mon-squat file mon_squat-1.0" in line
        assert " account=mallory token=1 via=upload " in line
        assert line.endswith("UNEXPECTED: added by mallory, not one of alice")
    metrics = (workdir / "monitor.prom").read_text()
    assert 'tufpi_monitor_unexpected_events_total{project="mon-squat"} 2\n' in metrics
    assert 'tufpi_monitor_unexpected_events_total{project="mon-alice"} 0\n' in metrics
    # The index's operators yank it: logged as admin, which this watch list does not allow.
    size = _log_size(index_server)
    index_server.cli("yank", "mon-squat", "1.0", "--reason", "squatted")
    wait_until(lambda: _log_size(index_server) > size, "the yank was not logged", timeout=20)
    third = _monitor(index_server, workdir, pin)
    assert third.returncode == 1, third.stdout + third.stderr
    assert " mon-squat yank release 1 account=admin leaf=" in third.stdout
    assert "UNEXPECTED: yank by the index's operators (admin)" in third.stdout


def _log_size(server: IndexServer) -> int:
    checkpoint = httpx.get(f"{server.url}tlog/checkpoint").content
    return int(checkpoint.split(b"\n")[1])
