"""A running ``tufpi proxy`` sees a new upload within seconds (a page request or a miss looks
for a new publication, at most once per ``--recheck-interval``), waits for an upload whose
publication is pending instead of refusing it, and says "not found" for what the index does
not have; a flood of misses costs the index one timestamp read per interval."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.proxy import proxy
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tests.support.waiting import wait_until

# The metadata is not refreshed for its own sake during these tests: only a recheck can
# show a new upload.
NEVER = "600"


@pytest.fixture(scope="module")
def database_url() -> None:
    """The proxy's freshness does not depend on the index's database: SQLite only."""
    return


@pytest.fixture(scope="module")
def root(index_server: IndexServer, workdir: Path) -> Path:
    token = index_server.new_user("fresh-user")
    (workdir / "token").write_text(token)
    result = clients.twine_upload(index_server.url, token, make_dists(workdir, "fr-lib", "1.0"))
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for_target(index_server, workdir, "simple/fr-lib/index.html")
    path = workdir / "1.root.json"
    path.write_bytes(first_root(index_server))
    return path


def _upload(server: IndexServer, workdir: Path, name: str, version: str) -> None:
    token = (workdir / "token").read_text()
    result = clients.twine_upload(server.url, token, make_dists(workdir, name, version))
    assert result.returncode == 0, result.stdout + result.stderr


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


def test_a_new_upload_installs_through_a_running_proxy_within_seconds(
    index_server: IndexServer, root: Path, workdir: Path, tmp_path: Path
) -> None:
    trust = ["--root", str(root)]
    stale_options = ("--recheck-interval", NEVER, "--publication-wait", "0")
    with (
        proxy(
            index_server.url, tmp_path / "stale", *trust, *stale_options, refresh_interval=NEVER
        ) as stale,
        proxy(index_server.url, tmp_path / "fresh", *trust, refresh_interval=NEVER) as fresh,
    ):
        for simple in (stale, fresh):  # both hold the signed metadata of before the uploads
            assert httpx.get(simple + "fr-lib/").status_code == 200
        _upload(index_server, workdir, "fr-new", "1.0")
        _upload(index_server, workdir, "fr-lib", "2.0")
        # Without a recheck, the proxy holds on to what it verified before the uploads.
        old = clients.pip_install(stale, tmp_path / "old", "fr-new")
        assert old.returncode != 0
        assert "fr-new" in old.stdout + old.stderr
        started = time.monotonic()
        new = clients.pip_install(fresh, tmp_path / "new", "fr-new", "fr-lib==2.0")
        took = time.monotonic() - started
        assert new.returncode == 0, new.stdout + new.stderr
        assert _installed(tmp_path / "new") == {"fr_new-1.0.dist-info", "fr_lib-2.0.dist-info"}
        assert took < 15


def _timestamp_reads(server: IndexServer) -> int:
    return (server.data_dir / "serve.log").read_text().count("GET /tuf/timestamp.json ")


def test_a_flood_of_misses_costs_one_timestamp_read_per_interval(
    index_server: IndexServer, root: Path, tmp_path: Path
) -> None:
    interval = 2.0
    trust = ["--root", str(root), "--recheck-interval", str(interval)]
    with (
        proxy(index_server.url, tmp_path / "cache", *trust, refresh_interval=NEVER) as simple,
        httpx.Client(timeout=30) as client,
    ):
        before = _timestamp_reads(index_server)
        started = time.monotonic()
        misses = 0
        while time.monotonic() - started < 3 * interval:
            answer = client.get(f"{simple}absent-{misses}/")
            assert answer.status_code == 404
            assert "not found" in answer.text
            assert "the index has no such project" in answer.text
            misses += 1
        took = time.monotonic() - started
    # The server logs a request once answered: wait for the last ones to be written.
    wait_until(lambda: _timestamp_reads(index_server) > before, "no timestamp read logged")
    reads = _timestamp_reads(index_server) - before
    assert misses >= 30
    assert 1 <= reads <= took / interval + 1, (reads, misses, took)


def test_a_pending_publication_is_waited_for_not_refused(
    unsigned_server: IndexServer, tmp_path: Path
) -> None:
    """An index whose signer has not published an upload yet: the page request waits (up
    to --publication-wait) and gets the signed page once it is published."""
    token = unsigned_server.new_user("pending-user")
    result = clients.twine_upload(
        unsigned_server.url, token, make_dists(tmp_path, "fr-pending", "1.0")
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / "root.json").write_bytes(first_root(unsigned_server))
    log = tmp_path / "proxy.log"
    trust = ["--root", str(tmp_path / "root.json"), "--publication-wait", "60"]
    with (
        proxy(unsigned_server.url, tmp_path / "cache", *trust, log=log) as simple,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        asked = pool.submit(httpx.get, simple + "fr-pending/", timeout=90)
        wait_until(
            lambda: (
                "waiting up to 60 s for the publication of simple/fr-pending/" in log.read_text()
            ),
            lambda: f"the proxy did not wait:\n{log.read_text()}",
        )
        assert not asked.done()
        unsigned_server.cli("trust", "publish")
        answer = asked.result(timeout=60)
    assert answer.status_code == 200, answer.text
    assert "fr_pending-1.0-py3-none-any.whl" in answer.text
