"""Hostile archives uploaded to a running ``tufpi serve`` cannot stall its readers.

Archive bombs (a tar.gz of a million empty members: ~2 MiB, which the index used to walk in
full, ~40 s and ~450 MB each, in the thread pool that serves reads) are uploaded at once;
while their inspection holds every upload slot (a further upload is answered 503 with
Retry-After), ``GET /simple/<project>/`` keeps answering quickly; then each bomb is refused
with a 400 naming the bound.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import re
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.uploads import post_wheel, tiny_wheel
from tests.support.waiting import wait_until

CONCURRENCY = 4  # the server's upload_concurrency
BOMBS = CONCURRENCY
NAME = "tufpi-bomb"
SDIST = "tufpi_bomb-1.0.tar.gz"
# Each read while the bombs run must answer within this (the old server: ~40 s).
READ_BOUND = 2.0
# The servers' member bound: a quarter of the default, so each bomb holds its slot for a few
# seconds of inspection, not twenty (the bound is the same code at any size).
MAX_MEMBERS = 50_000


def million_members() -> bytes:
    """A tar.gz of a million empty members (one repeated header), ~2 MiB."""
    info = tarfile.TarInfo("tufpi_bomb-1.0/x")
    block = info.tobuf(format=tarfile.GNU_FORMAT) * 1000
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(block) for _ in range(1000)]
    return b"".join([*out, compressor.compress(b"\0" * 1024), compressor.flush()])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return million_members()


@pytest.fixture
def server(own_database_url: str | None, tmp_path: Path) -> Iterator[IndexServer]:
    srv = server_support.start(
        tmp_path / "index",
        own_database_url,
        upload_concurrency=str(CONCURRENCY),
        inspect_processes="2",
        archive_max_members=str(MAX_MEMBERS),
    )
    try:
        yield srv
    finally:
        srv.stop()


def post_sdist(index_url: str, token: str, data: bytes) -> httpx.Response:
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": NAME,
        "version": "1.0",
        "filetype": "sdist",
        "pyversion": "source",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    with httpx.Client(timeout=120) as client:

        def admitted() -> list[httpx.Response]:
            response = client.post(
                index_url + "legacy/",
                data=fields,
                files={"content": (SDIST, data, "application/octet-stream")},
                auth=("__token__", token),
            )
            return [] if response.status_code == 503 else [response]

        # A probe may hold a slot for a moment: retry, as Retry-After asks, until admitted.
        return wait_until(admitted, "refused busy for 60 s", timeout=60, interval=0.05)[0]


def post_probe(client: httpx.Client, index_url: str, token: str) -> httpx.Response:
    """An upload refused at once when admitted (its sha256_digest is wrong, which is checked
    before its archive is read), and answered 503 when every upload slot is taken."""
    filename, data = tiny_wheel("tufpi-probe", "1.0")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": "tufpi-probe",
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": "0" * 64,
    }
    return client.post(
        index_url + "legacy/",
        data=fields,
        files={"content": (filename, data, "application/octet-stream")},
        auth=("__token__", token),
    )


def wait_for_busy(server: IndexServer, token: str, timeout: float) -> httpx.Response:
    """Probe until the server answers busy: the signal that the bombs hold every slot."""
    with httpx.Client(timeout=30) as client:

        def busy() -> list[httpx.Response]:
            response = post_probe(client, server.url, token)
            if response.status_code == 503:
                return [response]
            assert "sha256_digest does not match" in response.text, response.text
            return []

        return wait_until(
            busy, "the bombs never took every upload slot", timeout=timeout, interval=0
        )[0]


def timed_reads(url: str, count: int) -> list[float]:
    seconds = []
    with httpx.Client(timeout=READ_BOUND * 10) as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200
    return seconds


def test_reads_keep_answering_while_bombs_are_inspected(server: IndexServer, bomb: bytes) -> None:
    token = server.new_user("alice")
    with httpx.Client(timeout=30) as client:
        assert post_wheel(client, server.url, token, "tufpi-read", "1.0").status_code == 200
    page = server.simple + "tufpi-read/"
    with concurrent.futures.ThreadPoolExecutor(BOMBS) as pool:
        bombs = [pool.submit(post_sdist, server.url, token, bomb) for _ in range(BOMBS)]
        busy = wait_for_busy(server, token, 60)
        reads = timed_reads(page, 20)
        # Still busy after the reads: they all ran while the bombs held every slot.
        still = wait_for_busy(server, token, 1)
        answers = [future.result() for future in bombs]
    assert max(reads) < READ_BOUND, reads
    for refused in (busy, still):
        assert refused.headers["retry-after"] == "5"
        assert "Too many uploads are being inspected" in refused.text
    for answer in answers:
        assert answer.status_code == 400, answer.text
        # The member bound, or the time bound first on a machine busy enough.
        bound = re.search(
            rf"\(limit: ({MAX_MEMBERS} archive members|20 s of inspection)\)", answer.text
        )
        assert bound is not None, answer.text
        assert bound.group(1) in answer.reason_phrase
    # Nothing of the bombs was kept; the server still takes ordinary uploads.
    with httpx.Client(timeout=30) as client:
        assert httpx.get(server.simple + NAME + "/").status_code == 404
        assert post_wheel(client, server.url, token, "tufpi-read", "2.0").status_code == 200


def inspection_workers(pid: int) -> list[int]:
    """The children of ``pid`` that multiprocessing's spawn started (its workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
    return found


def test_inspection_workers_end_with_a_killed_server(server: IndexServer) -> None:
    assert server.process is not None
    pid = server.process.pid
    workers = wait_until(
        lambda: len(found := inspection_workers(pid)) >= 2 and found,
        "serve did not start its inspection workers",
        timeout=60,
    )
    server.process.kill()
    server.process.wait()
    server.process = None

    def alive() -> list[int]:
        return [pid for pid in workers if Path(f"/proc/{pid}").exists()]

    wait_until(lambda: not alive(), lambda: f"workers {alive()} outlived the killed server")
