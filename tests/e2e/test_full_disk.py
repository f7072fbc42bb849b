"""A full disk (issue 11, item 6): uploads answer 507 and leave nothing, the signer backs
off with one log line, and ``tufpi remove`` still frees space.

The storage is a small tmpfs the test mounts (root only; skipped otherwise); the database
lives outside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.visibility import assert_consistent, holdings, sha256_of, wheel
from tests.support.waiting import wait_until
from tufpi.index.records import storage_key

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX only")


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        check=False,
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _write_until_an_error(out: BinaryIO, size: int) -> int | None:
    try:
        while True:
            out.write(b"\0" * size)
    except OSError as e:
        return e.errno


def fill(directory: Path) -> Path:
    """Write a file until the file system is full, to the page; returns it."""
    filler = directory / f"filler-{uuid.uuid4().hex}"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 16, 1 << 12):
            assert _write_until_an_error(out, size) == errno.ENOSPC
    return filler


def _wait_for_log(path: Path, needle: str, count: int = 1, timeout: float = 60) -> str:
    def text() -> str:
        return path.read_text(errors="replace") if path.exists() else ""

    return wait_until(
        lambda: (logged := text()).count(needle) >= count and logged,
        lambda: f"{needle!r} not logged {count} times:\n{text()}",
        timeout=timeout,
    )


@pytest.fixture
def full_index(own_database_url: str | None, tmp_path: Path) -> Iterator[tuple[IndexServer, Path]]:
    with small_tmpfs(tmp_path / "storage", "3m") as storage:
        server = server_support.start(
            tmp_path / "index", own_database_url, storage_dir=str(storage), signer="false"
        )
        try:
            yield server, storage
        finally:
            server.stop()


def test_full_disk(full_index: tuple[IndexServer, Path], tmp_path: Path) -> None:
    server, storage = full_index
    token = server.new_user("filler")
    old = wheel(tmp_path / "dist", "spacey", "1.0", os.urandom(256 * 1024))
    kept = wheel(tmp_path / "dist", "spacey", "2.0", os.urandom(1024))
    refused = wheel(tmp_path / "dist", "spacey", "3.0", os.urandom(64 * 1024))
    uploaded = clients.twine_upload(server.url, token, [old, kept])
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    filler = fill(storage)

    # An upload on a full disk: 507 with a plain message, and nothing stored or staged.
    answer = clients.twine_upload(server.url, token, [refused])
    assert answer.returncode != 0
    assert "507" in answer.stdout + answer.stderr
    assert "full" in answer.stdout + answer.stderr
    held = assert_consistent(server.database_url, storage, server.url)
    assert held.filenames() == {old.name, kept.name}
    assert not any(refused.name in k for k in held.visible)
    assert list(storage.glob(".staging/*/scratch/*")) == []
    # The JSON API and the simple pages go on answering.
    assert httpx.get(server.url + "simple/spacey/", timeout=10).status_code == 200

    # The signer, with pending changes it cannot write: one line, backoff, no traceback.
    log = server.data_dir / "signer.log"
    signer = server_support.signer_process(server, "--log-level", "debug")
    try:
        _wait_for_log(log, "storage still full", count=3)
        text = log.read_text()
        assert text.count("the storage is full") == 1
        assert "Traceback" not in text

        # Removing a release on the full disk works, and frees its space.
        removed = server.cli("remove", "spacey", "1.0", "--yes", check=False)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        # It needed the space of the files it removed for the release's new pages.
        assert "deleting the removed files first" in removed.stderr
        held = assert_consistent(server.database_url, storage, server.url)
        assert held.filenames() == {kept.name}
        page = httpx.get(server.url + "simple/spacey/", timeout=10).text
        assert kept.name in page
        assert old.name not in page
        gone = storage_key(sha256_of(old), old.name)
        assert httpx.get(server.url + gone, timeout=10).status_code == 404

        # Space again: the signer resumes on its own.
        filler.unlink()
        _wait_for_log(log, "has room again")
        assert "Traceback" not in log.read_text()
    finally:
        signer.terminate()
        signer.wait(timeout=30)
    assert holdings(server.database_url, storage).staged == []
