"""PEP 458 end to end: twine uploads, python-tuf's ngclient verifies what the index signed."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from tuf.api import exceptions as tuf_exceptions

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import updater, wait_for_absence, wait_for_target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dist_path(server: IndexServer, project: str, filename: str) -> str:
    page = httpx.get(
        f"{server.simple}{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    ).json()
    url = next(f["url"] for f in page["files"] if f["filename"] == filename)
    assert url.startswith("../../")
    return url[len("../../") :]


@pytest.fixture(scope="module")
def uploaded(index_server: IndexServer, workdir: Path) -> dict[str, Path]:
    token = index_server.new_user("signer-test")
    sdist, wheel = make_dists(workdir, "signed-proj", "1.0")
    result = clients.twine_upload(index_server.url, token, [sdist, wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    return {"token": Path(token), "sdist": sdist, "wheel": wheel}


def test_ngclient_verifies_files_and_both_pages(
    index_server: IndexServer, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    wheel = uploaded["wheel"]
    path = _dist_path(index_server, "signed-proj", wheel.name)
    info = wait_for_target(index_server, tmp_path, path, _sha256(wheel.read_bytes()))
    assert info.length == wheel.stat().st_size
    assert set(info.hashes) == {"sha256", "sha512"}
    client = updater(index_server, tmp_path, "fresh")
    client.refresh()
    downloaded = Path(client.download_target(client.get_targetinfo(path)))
    assert downloaded.read_bytes() == wheel.read_bytes()

    for filename, accept in (
        ("index.html", "text/html"),
        ("index.json", "application/vnd.pypi.simple.v1+json"),
    ):
        served = httpx.get(f"{index_server.simple}signed-proj/", headers={"Accept": accept})
        target = wait_for_target(
            index_server, tmp_path, f"simple/signed-proj/{filename}", _sha256(served.content)
        )
        client = updater(index_server, tmp_path, f"page-{filename}")
        client.refresh()
        page = Path(client.download_target(target)).read_bytes()
        # Plain pip and a verifying client get the very same bytes.
        assert page == served.content
        assert wheel.name in page.decode()


def test_second_upload_appears_in_newer_snapshot(
    index_server: IndexServer, uploaded: dict[str, Path], workdir: Path, tmp_path: Path
) -> None:
    first = uploaded["wheel"]
    wait_for_target(index_server, tmp_path, _dist_path(index_server, "signed-proj", first.name))
    client = updater(index_server, tmp_path, "returning")
    client.refresh()
    before = json.loads((tmp_path / "returning" / "metadata" / "timestamp.json").read_bytes())
    _sdist, wheel = make_dists(workdir, "signed-proj", "2.0")
    result = clients.twine_upload(index_server.url, str(uploaded["token"]), [wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    path = _dist_path(index_server, "signed-proj", wheel.name)
    wait_for_target(index_server, tmp_path, path)
    # The same client (same metadata directory) walks forward to the newer snapshot.
    client = updater(index_server, tmp_path, "returning")
    client.refresh()
    after = json.loads((tmp_path / "returning" / "metadata" / "timestamp.json").read_bytes())
    assert after["signed"]["version"] > before["signed"]["version"]
    assert (
        after["signed"]["meta"]["snapshot.json"]["version"]
        > (before["signed"]["meta"]["snapshot.json"]["version"])
    )
    assert client.get_targetinfo(path) is not None


def test_removed_file_leaves_the_metadata(
    index_server: IndexServer, uploaded: dict[str, Path], workdir: Path, tmp_path: Path
) -> None:
    _sdist, wheel = make_dists(workdir, "signed-proj", "3.0")
    result = clients.twine_upload(index_server.url, str(uploaded["token"]), [wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    path = _dist_path(index_server, "signed-proj", wheel.name)
    wait_for_target(index_server, tmp_path, path)
    index_server.cli("remove", "signed-proj", "3.0", "--file", wheel.name, "--yes")
    wait_for_absence(index_server, tmp_path, path)
    page = wait_for_target(
        index_server,
        tmp_path,
        "simple/signed-proj/index.html",
        _sha256(httpx.get(f"{index_server.simple}signed-proj/").content),
    )
    client = updater(index_server, tmp_path, "after-removal")
    client.refresh()
    assert wheel.name not in Path(client.download_target(page)).read_text()
    log = index_server.cli("trust", "log", "--limit", "20").stdout
    assert f"remove\t{path}\tsnapshot" in log
    # The log of one project holds its files' changes as well as its pages'.
    project_log = index_server.cli("trust", "log", "--project", "Signed_Proj").stdout
    assert f"add\t{path}\t" in project_log
    assert "simple/signed-proj/index.json" in project_log
    assert "signed-tamper" not in project_log


def test_tampered_distribution_is_refused(
    index_server: IndexServer, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    _sdist, wheel = make_dists(tmp_path, "signed-tamper", "1.0")
    result = clients.twine_upload(index_server.url, str(uploaded["token"]), [wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    path = _dist_path(index_server, "signed-tamper", wheel.name)
    info = wait_for_target(index_server, tmp_path, path)
    stored = index_server.data_dir / "files" / path
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))  # the same inode as the consistent-snapshot alias
    # Without TUF the swapped bytes are served as if nothing happened...
    assert httpx.get(index_server.url + path).content == bytes(data)
    # ...but ngclient checks them against the signed hashes.
    client = updater(index_server, tmp_path, "tamper")
    client.refresh()
    with pytest.raises(tuf_exceptions.LengthOrHashMismatchError):
        client.download_target(info)


def test_metadata_and_pages_are_compressed_for_clients_that_ask(
    index_server: IndexServer, uploaded: dict[str, Path]
) -> None:
    timestamp = httpx.get(index_server.url + "tuf/timestamp.json").json()
    version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    url = f"{index_server.url}tuf/{version}.snapshot.json"
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(body) == plain.content
    page = httpx.get(f"{index_server.simple}signed-proj/", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"


def test_trust_status_shows_roles_and_fingerprint(index_server: IndexServer) -> None:
    out = index_server.cli("trust", "status").stdout
    first_root = (index_server.data_dir / "files" / "tuf" / "1.root.json").read_bytes()
    assert _sha256(first_root) in out
    for role in ("root", "targets", "bins", "snapshot", "timestamp"):
        assert f"\n{role}" in "\n" + out
    assert "bin-n (64)" in out
    assert "pending changes:" in out


def test_yank_keeps_the_file_targets_and_re_signs_the_pages(
    index_server: IndexServer, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    wheel = uploaded["wheel"]
    path = _dist_path(index_server, "signed-proj", wheel.name)
    wait_for_target(index_server, tmp_path, path)
    index_server.cli("yank", "signed-proj", "1.0", "--reason", "oops")
    try:
        served = httpx.get(f"{index_server.simple}signed-proj/").content
        assert b'data-yanked="oops"' in served
        # The yanked page is signed...
        wait_for_target(index_server, tmp_path, "simple/signed-proj/index.html", _sha256(served))
        # ...and the yanked file is still a target (PEP 592: pinned installs keep working).
        client = updater(index_server, tmp_path, "after-yank")
        client.refresh()
        assert client.get_targetinfo(path) is not None
    finally:
        index_server.cli("yank", "--undo", "signed-proj", "1.0")
