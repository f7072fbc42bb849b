"""``tufpi-conformance-client``: the TUF conformance CLI's three commands against a real index."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support import clients, mirror
from tests.support.clients import clean_env
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.tuf_client import wait_for_target

CLIENT = str(Path(sys.executable).parent / "tufpi-conformance-client")


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLIENT, *args], capture_output=True, text=True, env=clean_env(), timeout=120, check=False
    )


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> dict[str, Path | str]:
    token = index_server.new_user("conformance")
    _sdist, wheel = make_dists(workdir, "conf-proj", "1.0")
    result = clients.twine_upload(index_server.url, token, [wheel])
    assert result.returncode == 0, result.stderr
    page = httpx.get(f"{index_server.simple}conf-proj/").content
    wait_for_target(
        index_server, workdir, "simple/conf-proj/index.html", hashlib.sha256(page).hexdigest()
    )
    url = httpx.get(
        f"{index_server.simple}conf-proj/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()["files"][0]["url"]
    root = workdir / "trusted-root.json"
    root.write_bytes((index_server.data_dir / "files" / "tuf" / "1.root.json").read_bytes())
    return {"wheel": wheel, "path": url.removeprefix("../../"), "root": root, "page": page}


def _init(tmp_path: Path, root: Path) -> Path:
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    result = conformance("--metadata-dir", str(metadata), "init", str(root))
    assert result.returncode == 0, result.stderr
    return metadata


def test_init_stores_the_root_without_network(tmp_path: Path, published: dict) -> None:  # type: ignore[type-arg]
    metadata = _init(tmp_path, published["root"])
    assert (metadata / "root.json").read_bytes() == published["root"].read_bytes()
    missing = conformance("--metadata-dir", str(tmp_path / "m2"), "init", str(tmp_path / "nope"))
    assert missing.returncode == 1


def test_refresh_leaves_unversioned_metadata(
    tmp_path: Path,
    index_server: IndexServer,
    published: dict,  # type: ignore[type-arg]
) -> None:
    metadata = _init(tmp_path, published["root"])
    url = index_server.url + "tuf/"
    result = conformance("--metadata-dir", str(metadata), "--metadata-url", url, "refresh")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in metadata.iterdir()}
    assert {"root.json", "timestamp.json", "snapshot.json", "targets.json"} <= names
    assert not any(n[0].isdigit() for n in names)
    wrong = conformance(
        "--metadata-dir", str(metadata), "--metadata-url", index_server.url + "nothing/", "refresh"
    )
    assert wrong.returncode == 1


def test_download_in_order_reuses_cache_and_stops_at_first_failure(
    tmp_path: Path,
    index_server: IndexServer,
    published: dict,  # type: ignore[type-arg]
) -> None:
    metadata = _init(tmp_path, published["root"])
    targets = tmp_path / "targets"
    common = [
        "--metadata-dir",
        str(metadata),
        "--metadata-url",
        index_server.url + "tuf/",
        "--target-base-url",
        index_server.url,
        "--target-dir",
        str(targets),
    ]
    page, dist = "simple/conf-proj/index.html", published["path"]
    result = conformance(*common, "--target-name", page, "--target-name", dist, "download")
    assert result.returncode == 0, result.stderr
    assert (targets / quote(page, "")).read_bytes() == published["page"]
    stored = targets / quote(dist, "")
    assert stored.read_bytes() == published["wheel"].read_bytes()

    log = index_server.data_dir / "serve.log"
    wheel_name = published["wheel"].name
    fetched = log.read_text().count(f".{wheel_name} HTTP")
    again = conformance(*common, "--target-name", dist, "download")
    assert again.returncode == 0, again.stderr
    assert log.read_text().count(f".{wheel_name} HTTP") == fetched  # reused, not re-fetched

    stored.unlink()
    failing = conformance(
        *common, "--target-name", "simple/absent/index.html", "--target-name", dist, "download"
    )
    assert failing.returncode == 1
    assert "not listed" in failing.stderr
    assert not stored.exists()  # stopped at the first failure


def test_download_refuses_a_tampered_target(
    tmp_path: Path,
    index_server: IndexServer,
    published: dict,  # type: ignore[type-arg]
) -> None:
    metadata = _init(tmp_path, published["root"])
    targets = tmp_path / "targets"
    targets.mkdir()
    dist = published["path"]
    (targets / quote(dist, "")).write_bytes(b"not the wheel")  # a poisoned cache
    stored = index_server.data_dir / "files" / dist
    original = stored.read_bytes()
    try:
        stored.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        result = conformance(
            "--metadata-dir",
            str(metadata),
            "--metadata-url",
            index_server.url + "tuf/",
            "--target-base-url",
            index_server.url,
            "--target-dir",
            str(targets),
            "--target-name",
            dist,
            "download",
        )
    finally:
        stored.write_bytes(original)
    assert result.returncode == 1
    assert "LengthOrHashMismatchError" in result.stderr


def test_the_proxys_bounds_apply_slow_retrieval(
    tmp_path: Path,
    index_server: IndexServer,
    published: dict,  # type: ignore[type-arg]
) -> None:
    """A target trickled a byte every 0.1 s: refused at ``--download-timeout`` with the
    proxy's words, because the command runs on the proxy's VerifiedIndex and ClientBounds.
    (The wrapper this replaced built its own fetcher with fixed bounds: it had no such
    option, and would have read for 60 s.)"""
    metadata = _init(tmp_path, published["root"])
    with mirror.running(index_server.url) as tampering:
        tampering.trickle_file(published["wheel"].name, interval=0.1)
        started = time.monotonic()
        result = conformance(
            "--metadata-dir",
            str(metadata),
            "--metadata-url",
            tampering.url + "tuf/",
            "--target-base-url",
            tampering.url,
            "--target-dir",
            str(tmp_path / "targets"),
            "--target-name",
            published["path"],
            "--download-timeout",
            "2",
            "download",
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    said = re.search(r"SlowDownload: slow retrieval: (\d+) bytes in (\d+\.\d) s", result.stderr)
    assert said is not None, result.stderr
    assert 2.0 <= float(said[2]) < 4
    assert elapsed < 30


def test_the_proxys_bounds_apply_endless_metadata(
    tmp_path: Path,
    index_server: IndexServer,
    published: dict,  # type: ignore[type-arg]
) -> None:
    """A timestamp without end: refused at the proxy's size cap for it, in the proxy's words."""
    metadata = _init(tmp_path, published["root"])
    with mirror.running(index_server.url) as tampering:
        tampering.endless_metadata("timestamp.json")
        result = conformance(
            "--metadata-dir", str(metadata), "--metadata-url", tampering.url + "tuf/", "refresh"
        )
    assert result.returncode == 1
    assert (
        "endless data: 'timestamp.json' is longer than the 16384 bytes the client accepts: "
        "refreshing the signed metadata" in result.stderr
    )
    assert not (metadata / "timestamp.json").exists()
