"""An upstream page that lists one filename twice, with two different sha256 values: which
bytes are meant cannot be told, so tufpi mirrors neither entry (before, it took the first,
so the page's order chose what tufpi signed), logs the file with both hashes, and mirrors
the rest of the page. Plain pip, given the same page, installs one of the two.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients, hostile_http
from tests.support.hostile_http import HostileServer
from tests.support.server import IndexServer, start
from tests.support.uploads import tiny_wheel
from tufpi.upstream import pages

PROJECT = "twice-up"
_JSON = {"content-type": pages.JSON_TYPE}
_FILE = {"content-type": "application/octet-stream"}


def _evil_wheel(filename: str) -> bytes:
    """A valid wheel of the same name and version as the honest one, other bytes."""
    dist, version = filename.split("-")[:2]
    info = f"{dist}-{version}.dist-info"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(f"{dist}/__init__.py", "EVIL = True\n")
        archive.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {version}\n\n"
        )
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return out.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(filename: str, data: bytes, where: str) -> dict[str, object]:
    return {
        "filename": filename,
        "url": f"/{where}/{filename}",
        "hashes": {"sha256": _sha256(data)},
        "size": len(data),
    }


@pytest.fixture
def upstream() -> Iterator[tuple[HostileServer, bytes, bytes]]:
    """The page: 1.0 listed twice, honest then evil; 1.1 listed twice, the same file."""
    filename, honest = tiny_wheel(PROJECT, "1.0")
    evil = _evil_wheel(filename)
    other, other_data = tiny_wheel(PROJECT, "1.1")
    entries = [
        _entry(filename, honest, "a"),
        _entry(filename, evil, "b"),
        _entry(other, other_data, "a"),
        _entry(other, other_data, "a"),
    ]
    page = {"meta": {"api-version": "1.1"}, "name": PROJECT, "files": entries}
    with hostile_http.running() as server:
        server.serve(f"/simple/{PROJECT}/", json.dumps(page).encode(), _JSON)
        server.serve(f"/a/{filename}", honest, _FILE)
        server.serve(f"/b/{filename}", evil, _FILE)
        server.serve(f"/a/{other}", other_data, _FILE)
        yield server, honest, evil


def test_plain_pip_installs_one_of_the_two(
    upstream: tuple[HostileServer, bytes, bytes], tmp_path: Path
) -> None:
    """Without tufpi: the ambiguous page is taken at its word, one of the two files installed."""
    server, _honest, _evil = upstream
    target = tmp_path / "target"
    result = clients.pip_install(server.url + "simple/", target, "--no-deps", f"{PROJECT}==1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    installed = (target / "twice_up" / "__init__.py").read_text()
    assert installed in ("VERSION = '1.0'\n", "EVIL = True\n")


@pytest.fixture
def index(
    database_url: str | None, tmp_path: Path, upstream: tuple[HostileServer, bytes, bytes]
) -> Iterator[IndexServer]:
    server = upstream[0]
    srv = start(tmp_path / "tufpi", database_url, upstream=server.url + "simple/")
    try:
        yield srv
    finally:
        srv.stop()


def test_tufpi_mirrors_neither_entry_and_logs_both_hashes(
    index: IndexServer, upstream: tuple[HostileServer, bytes, bytes]
) -> None:
    server, honest, evil = upstream
    filename = tiny_wheel(PROJECT, "1.0")[0]
    response = httpx.get(
        f"{index.simple}{PROJECT}/", headers={"accept": pages.JSON_TYPE}, timeout=30
    )
    assert response.status_code == 200, response.text
    listed = [f["filename"] for f in response.json()["files"]]
    assert listed == [tiny_wheel(PROJECT, "1.1")[0]]  # the same file twice: taken once
    log = (index.data_dir / "serve.log").read_text()
    assert (
        f"upstream {server.url}simple/, project {PROJECT}: {filename}: left off, listed with "
        f"different sha256 values: {_sha256(honest)}, {_sha256(evil)}"
    ) in log
    # Neither file was fetched, for a size or for its bytes.
    assert not any(path.endswith(filename) for path in server.requests)
