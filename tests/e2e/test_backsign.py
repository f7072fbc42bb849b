"""Back-signing: `tufpi trust publish --all` re-signs every bin from the database, in worker
processes, while holding the signer election; clients verify what it published."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import updater
from tests.support.waiting import wait_until

# Enough bins that a publication of all of them goes to the worker processes (1,024 or more).
BINS = 2048


@pytest.fixture
def server(own_database_url: str | None, tmp_path: Path) -> Iterator[IndexServer]:
    """An index whose web does not sign, with enough bins for the worker processes."""
    srv = server_support.start(tmp_path / "index", own_database_url, signer="false", bins=str(BINS))
    yield srv
    srv.stop()


def published_bins(server: IndexServer) -> dict[str, int]:
    tuf = server.data_dir / "files" / "tuf"
    timestamp = json.loads((tuf / "timestamp.json").read_bytes())
    version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    meta = json.loads((tuf / f"{version}.snapshot.json").read_bytes())["signed"]["meta"]
    return {name: m["version"] for name, m in meta.items() if name.startswith("bin-")}


def test_publish_all_re_signs_every_bin_in_workers(server: IndexServer, tmp_path: Path) -> None:
    token = server.new_user("backsigner")
    dists = make_dists(tmp_path, "bs-one", "1.0")
    assert clients.twine_upload(server.url, token, dists).returncode == 0
    before = published_bins(server)
    assert len(before) == BINS
    status = server.cli("trust", "status").stdout
    pending = int(re.search(r"pending changes: (\d+)", status).group(1))  # type: ignore[union-attr]
    assert pending >= 4  # two files, two pages
    assert "last publication of a change: none yet" in status

    # Pending uploads, then every bin: two publications, both in the foreground.
    first = server.cli("trust", "publish", "--workers", "2").stdout
    assert re.search(rf"published snapshot 2 .*: \d+ bins, {pending} changes", first), first
    status = server.cli("trust", "status").stdout
    assert re.search(r"last publication of a change: \d{4}-\d\d-\d\d \d", status), status
    assert "pending changes: 0" in status
    after_first = published_bins(server)
    changed = {name for name in before if after_first[name] != before[name]}
    assert 0 < len(changed) <= pending

    everything = server.cli("trust", "publish", "--all", "--workers", "2").stdout
    assert f"{BINS} bins, 0 changes" in everything
    assert "bins signed by 2 worker processes" in everything
    after_all = published_bins(server)
    assert all(after_all[name] == after_first[name] + 1 for name in before)

    # A new client verifies the files and pages through the re-signed bins.
    client = updater(server, tmp_path, "fresh")
    client.refresh()
    for dist in dists:
        info = client.get_targetinfo(f"packages/{_sha256_path(dist)}/{dist.name}")
        assert info is not None
        downloaded = client.download_target(info, str(tmp_path / dist.name))
        assert Path(downloaded).read_bytes() == dist.read_bytes()
    assert client.get_targetinfo("simple/bs-one/index.json") is not None


def test_publish_waits_for_the_active_signer_then_gives_up(
    own_database_url: str | None, tmp_path: Path
) -> None:
    server = server_support.start(tmp_path / "index", own_database_url, signer="false")
    signer = server_support.signer_process(server)
    try:
        log = server.data_dir / "signer.log"
        wait_until(
            lambda: "signer: active" in log.read_text(errors="replace"),
            lambda: log.read_text(errors="replace"),
        )
        started = time.monotonic()
        result = server.cli("trust", "publish", "--wait", "1", check=False)
        assert result.returncode != 0
        assert "another signer stayed active for 1 s" in result.stderr
        assert time.monotonic() - started < 20
    finally:
        signer.terminate()
        signer.wait(timeout=30)
        server.stop()
    # Once it stopped, the foreground publication runs (nothing pending: nothing to do).
    assert "nothing to publish" in server.cli("trust", "publish", "--wait", "5").stdout


def _sha256_path(dist: Path) -> str:
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest[4:]}"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_with_a_killed_signer_and_the_next_run_publishes(
    server: IndexServer, tmp_path: Path
) -> None:
    before = server.data_dir / "files" / "tuf" / "timestamp.json"
    timestamp = before.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "trust", "publish", "--all", "--workers", "2"],
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = wait_until(
        lambda: len(found := _children(process.pid)) >= 2 and found,
        "the workers never started",
        timeout=60,
        interval=0.05,
    )
    process.kill()
    process.wait(timeout=30)
    wait_until(
        lambda: not any(_alive(pid) for pid in workers), "workers outlived their signer", timeout=10
    )
    if before.read_bytes() == timestamp:  # killed before it published (the usual case)
        status = server.cli("trust", "status", check=False).stdout  # bins due: exit 3
        assert "pending changes: 0" in status
    # The lock died with it: the next run takes it at once and publishes every bin.
    again = server.cli("trust", "publish", "--all", "--wait", "5").stdout
    assert f"{BINS} bins" in again
    client = updater(server, tmp_path, "after-kill")
    client.refresh()
    assert client.get_targetinfo("simple/nothing-here/index.json") is None
