"""Freshness: online roles are re-signed before they expire, and at once after downtime.

Time is moved forward for whole processes with Debian's faketime (libfaketime): the signer
and a verifying client live in the future; the real clock is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import faketime
from tests.support import server as server_support
from tests.support.clients import clean_env
from tests.support.server import IndexServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(faketime.library() is None, reason="needs Debian's faketime")

_CLIENT = textwrap.dedent(
    """
    import sys
    from tuf.ngclient import Updater
    root, url, workdir = sys.argv[1:4]
    updater = Updater(workdir + "/metadata", url + "tuf/", url, workdir + "/targets",
                      bootstrap=open(root, "rb").read())
    try:
        updater.refresh()
    except Exception as e:
        print(type(e).__name__, e)
    else:
        print("ok")
    """
)


def _client_in(offset: str, server: IndexServer, workdir: Path) -> str:
    """Refresh a fresh ngclient living ``offset`` in the future; 'ok' or the error."""
    (workdir / "metadata").mkdir(parents=True, exist_ok=True)
    (workdir / "targets").mkdir(parents=True, exist_ok=True)
    root = server.data_dir / "files" / "tuf" / "1.root.json"
    result = subprocess.run(
        [sys.executable, "-c", _CLIENT, str(root), server.url, str(workdir)],
        capture_output=True,
        text=True,
        env=clean_env(**faketime.env(offset)),
        timeout=60,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def _timestamp(server: IndexServer) -> dict:  # type: ignore[type-arg]
    path = server.data_dir / "files" / "tuf" / "timestamp.json"
    return json.loads(path.read_bytes())["signed"]


def _snapshot(server: IndexServer) -> dict:  # type: ignore[type-arg]
    version = _timestamp(server)["meta"]["snapshot.json"]["version"]
    path = server.data_dir / "files" / "tuf" / f"{version}.snapshot.json"
    return json.loads(path.read_bytes())["signed"]


def _wait_for_new_timestamp(server: IndexServer, after: int, timeout: float = 30) -> dict:  # type: ignore[type-arg]
    wait_until(lambda: _timestamp(server)["version"] > after, "no new timestamp", timeout)
    return _timestamp(server)


@pytest.fixture
def short_lived(own_database_url: str | None, tmp_path: Path) -> Iterator[IndexServer]:
    """An index without an in-process signer, online roles valid for an hour, re-signed
    when less than 15 minutes are left."""
    srv = server_support.start(
        tmp_path / "index",
        own_database_url,
        signer="false",
        online_expiry="3600",
        resign_margin="900",
    )
    try:
        yield srv
    finally:
        srv.stop()


def _first_publication_at(server: IndexServer, offset: str) -> None:
    """Run a signer living ``offset`` ahead until its first publication is done (it says so
    on its ready pipe: the positive signal before checking that it published nothing)."""
    process = server_support.ready_signer(server, extra_env=faketime.env(offset))
    process.terminate()
    process.wait(timeout=30)


def test_roles_near_expiry_are_resigned_and_fresh_ones_are_not(
    short_lived: IndexServer, tmp_path: Path
) -> None:
    before = _timestamp(short_lived)["version"]
    # 30 minutes on: 30 minutes left, more than the 15-minute margin: nothing to do.
    _first_publication_at(short_lived, "+30m")
    assert _timestamp(short_lived)["version"] == before
    # 50 minutes on: 10 minutes left: bins, snapshot and timestamp are all re-signed.
    process = server_support.signer_process(short_lived, extra_env=faketime.env("+50m"))
    try:
        timestamp = _wait_for_new_timestamp(short_lived, before)
    finally:
        process.terminate()
        process.wait(timeout=30)
    snapshot = _snapshot(short_lived)
    bins = {k: v for k, v in snapshot["meta"].items() if k.startswith("bin-")}
    assert len(bins) == 64
    assert {m["version"] for m in bins.values()} == {2}
    assert snapshot["version"] == 2
    assert timestamp["expires"] > _snapshot_expiry_floor(minutes=50 + 59)
    assert _client_in("+55m", short_lived, tmp_path / "client") == "ok"


def _snapshot_expiry_floor(minutes: int) -> str:
    import datetime as dt

    moment = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_signer_after_a_day_down_resigns_before_anything_is_served_stale(
    own_database_url: str | None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "index"
    first = server_support.start(data_dir, own_database_url)
    database = first.database_url
    first.stop()
    # Without a signer, the index (like a CDN or mirror) still serves yesterday's metadata,
    # and a client living 25 hours from now refuses it as expired...
    unsigned = server_support.start(data_dir, database, signer="false")
    try:
        refused = _client_in("+25h", unsigned, tmp_path / "stale")
    finally:
        unsigned.stop()
    assert refused.startswith("ExpiredMetadataError"), refused
    # ...until the index starts again (then): serve answers only after its signer re-signed.
    restarted = server_support.start(data_dir, database, extra_env=faketime.env("+25h"))
    try:
        assert _client_in("+25h", restarted, tmp_path / "fresh") == "ok"
        assert _timestamp(restarted)["version"] == 2
    finally:
        restarted.stop()
