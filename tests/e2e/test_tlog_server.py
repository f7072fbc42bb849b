"""The transparency log on a real server: twine uploads, the signer appends the files'
entries and publishes tiles, lookups and a signed checkpoint, and a client reading
``/tlog/`` over HTTP verifies each file's inclusion with ``tufpi.tlog`` alone."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import tlog as tlog_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer, signer_process
from tests.support.tuf_client import wait_for_target
from tests.support.waiting import wait_until
from tufpi.keys.logkey import create_log_key
from tufpi.tlog import entries


def _target_path(server: IndexServer, project: str, filename: str) -> str:
    page = httpx.get(
        f"{server.simple}{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    url = next(f["url"] for f in page["files"] if f["filename"] == filename)
    return str(url).removeprefix("../../")


def _root(server: IndexServer) -> dict[str, object]:
    return tlog_support.root_signed(lambda name: httpx.get(f"{server.url}tuf/{name}").content)


@pytest.fixture(scope="module")
def uploaded(index_server: IndexServer, workdir: Path) -> dict[str, tuple[str, str]]:
    """Two files uploaded with twine and published: filename -> (target path, sha256)."""
    token = index_server.new_user("tlog-uploader")
    dists = make_dists(workdir, "tlog-proj", "1.0")
    result = clients.twine_upload(index_server.url, token, dists)
    assert result.returncode == 0, result.stdout + result.stderr
    found = {}
    for dist in dists:
        path = _target_path(index_server, "tlog-proj", dist.name)
        sha256 = hashlib.sha256(dist.read_bytes()).hexdigest()
        wait_for_target(index_server, workdir, path, sha256)
        found[dist.name] = (path, sha256)
    return found


def test_an_uploaded_file_is_in_a_verified_checkpoint(
    index_server: IndexServer, uploaded: dict[str, tuple[str, str]]
) -> None:
    read = tlog_support.over_http(index_server.url)
    # The timestamp listing the files came after a checkpoint holding their entries.
    verified = tlog_support.verify(read, _root(index_server))
    for path, sha256 in uploaded.values():
        index = tlog_support.included_file(read, verified, path, sha256)
        entry = entries.parse_entry(verified.leaves[index])
        assert isinstance(entry, entries.FileAdded)
        assert (entry.project, entry.version, entry.via) == ("tlog-proj", "1", "upload")
        assert entry.account == "tlog-uploader"
    # The publications are logged too (trust init's, then the upload's), in order.
    versions = [e.timestamp_version for e in verified.parsed() if isinstance(e, entries.Published)]
    assert versions[:1] == [1]
    assert versions == sorted(versions)


def test_publications_are_logged(index_server: IndexServer, uploaded: object) -> None:
    """The timestamp clients see now is in the log, with the sha256 of its bytes."""
    read = tlog_support.over_http(index_server.url)

    def logged() -> bool:
        timestamp = httpx.get(f"{index_server.url}tuf/timestamp.json").content
        verified = tlog_support.verify(read, _root(index_server))
        digest = hashlib.sha256(timestamp).hexdigest()
        return any(
            isinstance(e, entries.Published) and e.timestamp_sha256 == digest
            for e in verified.parsed()
        )

    wait_until(logged, "the current timestamp was not logged", timeout=10)


def test_cache_headers_and_paths(index_server: IndexServer, uploaded: object) -> None:
    url = index_server.url + "tlog/"
    checkpoint = httpx.get(url + "checkpoint")
    assert checkpoint.status_code == 200
    assert checkpoint.headers["cache-control"] == "public, no-cache"
    tile = httpx.get(url + "tile/0/000.p/1")
    assert tile.status_code == 200
    assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
    for bad in [
        "tile/0/0",  # not the canonical spelling
        "tile/0/000.p/256",
        "lookup/ABC",
        "lookup/" + "0" * 64,  # well formed, but no such target
        "checkpoint.tmp",
        "tile/%2e%2e/%2e%2e/tuf/root.json",  # (httpx would resolve a plain ..)
        "tile/9/000",  # a tile this log does not have
    ]:
        assert httpx.get(url + bad).status_code == 404, bad


def test_signer_refuses_a_log_key_the_root_does_not_name(
    index_server: IndexServer, tmp_path: Path
) -> None:
    other = tmp_path / "other-log.pem"
    create_log_key(other)
    process = signer_process(index_server, extra_env={"TUFPI_LOG_KEY": str(other)})
    assert process.wait(timeout=60) != 0
    log = (index_server.data_dir / "signer.log").read_text()
    assert "is not the key the TUF root names for the log" in log
