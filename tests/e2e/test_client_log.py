"""The verifying client checks the transparency log (issue 15) against a real index: pip
installs through ``tufpi proxy`` a file twine uploaded, its inclusion proven against a
checkpoint the proxy verified (under the log key the root pins) and kept; a lookup or the
tiles altered in the index's storage make the same file refused, in plain words, while
TUF alone (ngclient) still accepts it."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from tests.support import clients
from tests.support.clients import clean_env
from tests.support.proxy import proxy, publish, tufpi_install
from tests.support.server import IndexServer
from tests.support.tuf_client import updater
from tufpi.tlog import checkpoints, entries, hashing
from tufpi.tlog.policy import policy_of


@pytest.fixture(scope="module")
def database_url() -> None:
    """The client reads the index over HTTP only; the log's sequencing on PostgreSQL is
    test_tlog_server's subject: SQLite is enough here."""
    return


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> Path:
    """One project, uploaded with twine and published; the index's first root."""
    return publish(index_server, workdir, "log-user", [("tl-demo", "1.0", {})])


def _storage(index: IndexServer) -> Path:
    return index.data_dir / "files"


def _wheel(index: IndexServer) -> str:
    """The wheel's target path (its storage key)."""
    found = sorted(_storage(index).glob("packages/*/*/*/tl_demo-1.0-*.whl"))
    assert found, "the wheel is not in storage"
    return found[0].relative_to(_storage(index)).as_posix()


def _lookup(index: IndexServer, path: str) -> Path:
    """The lookup file of a target path in the index's storage."""
    return _storage(index) / "tlog" / "lookup" / hashlib.sha256(path.encode()).hexdigest()


@contextlib.contextmanager
def _altered(files: list[Path], alter: Callable[[bytes], bytes]) -> Iterator[None]:
    """Each file of the index's storage altered, then restored (the module shares it)."""
    kept = {file: file.read_bytes() for file in files}
    try:
        for file, data in kept.items():
            file.write_bytes(alter(data))
        yield
    finally:
        for file, data in kept.items():
            file.write_bytes(data)


def test_pip_installs_a_logged_file_with_its_inclusion_proven(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with proxy(index_server.url, cache, "--root", str(published)) as simple:
        result = clients.pip_install(simple, tmp_path / "t", "tl-demo")
    assert result.returncode == 0, result.stdout + result.stderr
    logged = (cache / "proxy.log").read_text()
    assert f"transparency log: {_wheel(index_server)} is entry " in logged, logged
    assert "files proven: 1, bytes fetched for proofs: " in logged  # the bytes the proofs cost
    # The kept checkpoint verifies under the log key the index's root pins.
    root = Metadata[Root].from_bytes(published.read_bytes())
    policy = policy_of(root.signed.unrecognized_fields)
    assert policy is not None
    (kept,) = cache.glob("*/tlog/checkpoint")
    checkpoint, _ = checkpoints.open_checkpoint(kept.read_bytes(), [policy.log], policy.origin)
    assert checkpoint.size >= 1


def _other_sha256(lookup: bytes) -> bytes:
    head, _, entry = lookup.partition(b"\n")
    parsed = entries.parse_entry(entry)
    assert isinstance(parsed, entries.FileAdded)
    forged = dataclasses.replace(parsed, sha256="0" * 64)
    return head + b"\n" + entries.encode_entry(forged)


def _flip_other_leaves(index_of_wheel: int) -> Callable[[bytes], bytes]:
    """Alter the hash of a leaf that is not the wheel's (it is on the wheel's proof)."""
    other = 0 if index_of_wheel else 1
    at = other * hashing.HASH_SIZE

    def flip(tile: bytes) -> bytes:
        return tile[:at] + bytes([tile[at] ^ 1]) + tile[at + 1 :]

    return flip


@pytest.mark.parametrize("what", ["lookup", "tile"])
def test_an_altered_lookup_or_tile_refuses_the_file(
    index_server: IndexServer, published: Path, tmp_path: Path, what: str
) -> None:
    wheel = _wheel(index_server)
    lookup = _lookup(index_server, wheel)
    if what == "lookup":
        files, alter, words = [lookup], _other_sha256, "has sha256 " + "0" * 64
    else:
        wheel_index = int(lookup.read_bytes().partition(b"\n")[0])
        # The first level-0 tile at every width: whichever checkpoint the client reads.
        level0 = _storage(index_server) / "tlog" / "tile" / "0"
        files = [f for f in [level0 / "000", *level0.glob("000.p/*")] if f.is_file()]
        assert files
        alter, words = _flip_other_leaves(wheel_index), "is not proven to be in the log"
    with _altered(files, alter):
        # TUF alone accepts the file: the index's signed metadata lists it unchanged.
        client = updater(index_server, tmp_path, "ngclient")
        client.refresh()
        info = client.get_targetinfo(wheel)
        assert info is not None
        client.download_target(info)
        result = tufpi_install(
            index_server.url,
            tmp_path / "cache",
            ["--root", str(published)],
            "--target",
            str(tmp_path / "t"),
            "tl-demo",
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "transparency log:" in output, output
    assert words in output, output
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


def test_the_conformance_client_refuses_a_file_the_log_does_not_hold(
    index_server: IndexServer, published: Path, tmp_path: Path
) -> None:
    client = str(Path(sys.executable).parent / "tufpi-conformance-client")
    metadata, wheel = tmp_path / "metadata", _wheel(index_server)

    def download(targets: str) -> subprocess.CompletedProcess[str]:
        args = ["--metadata-dir", str(metadata), "--metadata-url", index_server.url + "tuf/"]
        args += ["--target-base-url", index_server.url, "--target-dir", str(tmp_path / targets)]
        (tmp_path / targets).mkdir()
        return subprocess.run(
            [client, *args, "--target-name", wheel, "download"],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
            check=False,
        )

    metadata.mkdir()
    subprocess.run(
        [client, "--metadata-dir", str(metadata), "init", str(published)],
        env=clean_env(),
        check=True,
        timeout=60,
    )
    assert download("good").returncode == 0
    assert (metadata / "tlog" / "checkpoint").is_file()
    # The same file, its log entry gone (as a stolen online key would sign it).
    lookup = _lookup(index_server, wheel)
    kept = lookup.read_bytes()
    lookup.unlink()
    try:
        result = download("bad")
    finally:
        lookup.write_bytes(kept)
    assert result.returncode == 1
    assert f"transparency log: {wheel} is not in the index's log" in result.stderr
    assert not any((tmp_path / "bad").iterdir())
