"""Crash safety: the signer is SIGKILLed at every step of a batch; the repository stays valid
for clients after each kill, and after a restart every accepted upload is published once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import updater, wait_for_target

# Every checkpoint of Publisher.publish, in order; "bin:2" is the second bin of a batch.
KILL_POINTS = ["read", "bin:1", "bin:2", "bins", "snapshot", "timestamp", "commit"]


def _changes(server: IndexServer) -> list[tuple[str, str, int | None]]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT path, action, published_version FROM target_changes ORDER BY id")
            )
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


def test_kill_at_every_point_of_a_batch(unsigned_server: IndexServer, tmp_path: Path) -> None:
    server = unsigned_server
    token = server.new_user("crasher")
    client_dir = tmp_path / "client"
    uploaded: list[Path] = []
    for round_number, point in enumerate(KILL_POINTS):
        dists = make_dists(tmp_path, f"crash-proj-{round_number}", "1.0")
        result = clients.twine_upload(server.url, token, dists)
        assert result.returncode == 0, result.stdout + result.stderr
        uploaded += dists
        process = server_support.signer_process(server, "--debug-crash-at", point)
        try:
            assert process.wait(timeout=60) == -signal.SIGKILL, f"signer survived {point}"
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        # A returning client (same metadata directory) still refreshes and verifies.
        client = updater(server, client_dir)
        client.refresh()
        assert client.get_targetinfo("simple/does-not-exist/index.html") is None

    process = server_support.signer_process(server)
    try:
        for dist in uploaded:
            prefix = dist.name.split("-1.0")[0].replace("_", "-")
            wait_for_target(server, tmp_path, f"simple/{prefix}/index.html", timeout=60)
        deadline = time.monotonic() + 60
        while any(c[2] is None for c in _changes(server)):
            assert time.monotonic() < deadline, "changes still pending after restart"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)

    changes = _changes(server)
    dist_adds = [c for c in changes if c[0].startswith("packages/") and c[1] == "add"]
    # Each accepted upload was logged once and published once.
    assert len(dist_adds) == len(uploaded)
    assert len({c[0] for c in dist_adds}) == len(uploaded)
    assert all(c[2] is not None for c in changes)
    client = updater(server, client_dir)
    client.refresh()
    for dist in uploaded:
        listed = [c[0] for c in dist_adds if c[0].endswith("/" + dist.name)]
        assert len(listed) == 1
        info = client.get_targetinfo(listed[0])
        assert info is not None
        assert Path(client.download_target(info)).read_bytes() == dist.read_bytes()
