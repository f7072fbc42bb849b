"""Crash safety of the transparency log: the signer is SIGKILLed at each step of the
sequencer (leaves committed, tiles written, checkpoint written), in the run before a
snapshot (":1") and in the one after the timestamp (":2"). After each kill the log in
storage is valid (the checkpoint verifies under the root's log key, every tile it needs is
there and gives its root), consistent with the checkpoint before the kill, and every file
a TUF client can see has a lookup whose entry is in it; a restarted signer completes it."""

from __future__ import annotations

import dataclasses
import hashlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import server as server_support
from tests.support import tlog as tlog_support
from tests.support.server import IndexServer
from tests.support.tuf_client import updater
from tests.support.uploads import post_wheel, tiny_wheel
from tests.support.waiting import wait_until
from tufpi.tlog import checkpoints, entries, hashing, tiles

# Each point of a sequencer run; ":2" is the run after the timestamp (the first, ":1", is
# the one before the snapshot: the new file is not visible to TUF clients yet). The last
# leaves the publication's own entry committed but in no checkpoint, for the restart.
KILL_POINTS = [
    "log-sequenced",
    "log-tiles",
    "log-checkpoint",
    "log-tiles:2",
    "log-checkpoint:2",
    "log-sequenced:2",
]


@dataclasses.dataclass
class History:
    server: IndexServer
    token: str
    client_dir: Path
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # target path -> sha256
    last: checkpoints.Checkpoint | None = None


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    data_dir = tmp_path_factory.mktemp("tlog-crash")
    server = server_support.start(data_dir, signer="false")
    try:
        yield History(server, server.new_user("crasher"), data_dir / "client")
    finally:
        server.stop()


def _upload(history: History, name: str) -> str:
    server = history.server
    with httpx.Client(timeout=30) as client:
        answer = post_wheel(client, server.url, history.token, name, "1.0")
        assert answer.status_code == 200, answer.text
        page = client.get(
            f"{server.simple}{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        ).json()
    path = str(page["files"][0]["url"]).removeprefix("../../")
    history.files[path] = hashlib.sha256(tiny_wheel(name, "1.0")[1]).hexdigest()
    return path


def _check_log(history: History) -> set[str]:
    """Check the published log; returns the file targets a TUF client sees."""
    files = history.server.data_dir / "files"
    read = tlog_support.from_storage(files)
    root = tlog_support.root_signed(lambda name: (files / "tuf" / name).read_bytes())
    verified = tlog_support.verify(read, root)
    new = verified.checkpoint
    if history.last is not None:
        old = history.last
        proof = tiles.consistency_proof(old.size, new.size, lambda t: read(t.path()))
        hashing.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    history.last = new
    client = updater(history.server, history.client_dir)
    client.refresh()
    visible = {path for path in history.files if client.get_targetinfo(path) is not None}
    for path in visible:
        tlog_support.included_file(read, verified, path, history.files[path])
    return visible


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_then_the_log_is_valid(history: History, point: str) -> None:
    path = _upload(history, f"tlog-crash-{KILL_POINTS.index(point)}")
    process = server_support.signer_process(history.server, "--debug-crash-at", point)
    try:
        assert process.wait(timeout=60) == -signal.SIGKILL, f"signer survived {point}"
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    visible = _check_log(history)
    # Killed in the run after the timestamp: the file is visible, so it must be logged
    # (checked above); killed before its snapshot: not visible yet.
    assert (path in visible) == point.endswith(":2")


def _timestamp_logged(history: History) -> bool:
    """Whether the published checkpoint holds the entry of the current timestamp.json."""
    files = history.server.data_dir / "files"
    digest = hashlib.sha256((files / "tuf" / "timestamp.json").read_bytes()).hexdigest()
    root = tlog_support.root_signed(lambda name: (files / "tuf" / name).read_bytes())
    verified = tlog_support.verify(tlog_support.from_storage(files), root)
    return any(
        isinstance(entry, entries.Published) and entry.timestamp_sha256 == digest
        for entry in verified.parsed()
    )


def test_a_restarted_signer_completes_the_log(history: History) -> None:
    # Killed after the last publication's entry was committed, before its checkpoint.
    assert not _timestamp_logged(history)
    process = server_support.signer_process(history.server)
    try:
        wait_until(
            lambda: _timestamp_logged(history),
            "the restarted signer did not complete the log",
            timeout=30,
            interval=0.2,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert _check_log(history) == set(history.files)
    assert len(history.files) == len(KILL_POINTS)
