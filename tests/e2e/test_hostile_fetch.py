"""A hostile server between the verifying client and a real index: every phase of a download
is bounded by one deadline, and every body by one size cap counted on decoded bytes.

Each attack is shown twice: what a plain HTTP client does (httpx with a per-read timeout,
as tufpi's fetcher once relied on: still reading after twice the deadline, or inflating a
bomb far past any cap; stopped by the test), and what tufpi does now (``tufpi install
--download-timeout N`` or ngclient on tufpi's fetcher): refused within the deadline and a
small margin, in words that name the cause, with memory bounded.

The server (``tests.support.hostile_http``) forwards to a real ``tufpi serve`` (SQLite and
PostgreSQL) and attacks the paths a test names: ``103 Early Hints`` forever, the response
head trickled a byte per 0.2 s, the body trickled, a body without end, a gzip bomb of about
2 MB that inflates to 2 GiB.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tuf.api import exceptions
from tuf.ngclient import UpdaterConfig

from tests.support import clients, hostile_http
from tests.support.dists import make_dists
from tests.support.hostile_http import HostileServer
from tests.support.server import IndexServer
from tests.support.tuf_client import first_root, wait_for_target
from tests.support.waiting import wait_until
from tufpi.client.fetcher import (
    CORE_METADATA_MAX_LENGTH,
    BoundedFetcher,
    SlowDownload,
    TooLong,
    http_client,
)
from tufpi.client.verified_index import Location, make_updater

PROJECT = "hostile-fetch"
DEADLINE = 3.0
# Start-up of a Python process, the proxy, ngclient's refresh: what a refusal may take on
# top of the deadline on a busy machine (the refusal's own figure is checked more tightly).
MARGIN = 12.0
_JSON = "application/vnd.pypi.simple.v1+json"
_ROLE = re.compile(r"^/tuf/\d+\.(?P<role>[\w-]+)\.json$")


# ----- the index, what it published, the hostile server -----


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> dict[str, Any]:
    """One project published and signed; its wheel's page entry and the trusted root."""
    token = index_server.new_user("hostile")
    wheel = next(p for p in make_dists(workdir, PROJECT, "1.0") if p.suffix == ".whl")
    result = clients.twine_upload(index_server.url, token, [wheel])
    assert result.returncode == 0, result.stdout + result.stderr
    page = httpx.get(f"{index_server.simple}{PROJECT}/", headers={"accept": _JSON})
    wait_for_target(
        index_server,
        workdir,
        f"simple/{PROJECT}/index.json",
        hashlib.sha256(page.content).hexdigest(),
        timeout=60,
    )
    root = workdir / "hostile-root.json"
    root.write_bytes(first_root(index_server))
    entry = page.json()["files"][0]
    return {"entry": entry, "path": entry["url"].removeprefix("../../"), "root": root}


@pytest.fixture
def hostile(index_server: IndexServer) -> Iterator[HostileServer]:
    with hostile_http.running(index_server.url) as server:
        yield server


def _role(role: str) -> Callable[[str], bool]:
    """Metadata of ``role`` under its consistent name ``/tuf/<version>.<role>.json``."""

    def matches(path: str) -> bool:
        found = _ROLE.match(path)
        return found is not None and found["role"] == role

    return matches


def _a_bin(path: str) -> bool:
    found = _ROLE.match(path)
    return found is not None and found["role"].startswith("bin-")


def _file(filename: str) -> Callable[[str], bool]:
    """A target under its plain or consistent name (``<sha256>.<name>``)."""
    return lambda path: path.startswith("/") and path.rpartition("/")[2].endswith(filename)


def _page_target(path: str) -> bool:
    return path.startswith(f"/simple/{PROJECT}/") and path.endswith(".index.json")


# ----- the clients -----


def _install(
    hostile: HostileServer, published: dict[str, Any], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``tufpi install --download-timeout DEADLINE`` through ``hostile``: its result, how long
    it took, and its peak resident memory (bytes)."""
    command = [
        sys.executable,
        "-m",
        "tufpi.cli",
        "install",
        "--python",
        sys.executable,
        "--index",
        hostile.url,
        "--root",
        str(published["root"]),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--download-timeout",
        f"{DEADLINE:g}",
        "--",
        "--retries",
        "0",
        "--target",
        str(tmp_path / "target"),
        PROJECT,
    ]
    started = time.monotonic()
    with subprocess.Popen(
        command,
        env=clients.clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.append(process.communicate()[0]))
        reader.start()
        peak = 0
        while process.poll() is None:  # VmHWM only grows: its last reading is the peak
            peak = max(peak, _peak_rss(process.pid))
            time.sleep(0.02)
        reader.join(30)
    elapsed = time.monotonic() - started
    result = subprocess.CompletedProcess(command, process.returncode, "".join(output), "")
    return result, elapsed, peak


def _peak_rss(pid: int) -> int:
    """A live process's peak resident memory (``VmHWM``, which starts afresh at exec, where
    ``ru_maxrss`` keeps the forking parent's); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) * 1024


def _refused(result: subprocess.CompletedProcess[str], pattern: str) -> re.Match[str]:
    assert result.returncode != 0, result.stdout
    said = re.search(pattern, result.stdout)
    assert said is not None, result.stdout
    return said


def _fetcher(client: httpx.Client) -> BoundedFetcher:
    return BoundedFetcher(client, read_timeout=DEADLINE, total_timeout=DEADLINE)


def _refresh_error(hostile: HostileServer, published: dict[str, Any], tmp_path: Path) -> Exception:
    """What ngclient on tufpi's fetcher fails with, refreshing and then downloading the
    project's wheel through ``hostile``."""
    location = Location.of_index(hostile.url, tmp_path / "ngclient")
    location.metadata_dir.mkdir(parents=True)
    assert location.target_dir is not None
    location.target_dir.mkdir(parents=True)
    (location.metadata_dir / "root.json").write_bytes(published["root"].read_bytes())
    with http_client(None) as client:
        updater = make_updater(location, _fetcher(client), UpdaterConfig())
        try:
            updater.refresh()
            for target in (f"simple/{PROJECT}/index.json", published["path"]):
                info = updater.get_targetinfo(target)
                assert info is not None
                updater.download_target(info)
        except (exceptions.DownloadError, exceptions.RepositoryError) as e:
            return e
    raise AssertionError("the attack was not noticed: refresh and download succeeded")


def _naive_keeps_reading(hostile: HostileServer, path: str) -> None:
    """Plain httpx with a 1 s read timeout (each read brings a byte, or a 1xx answer, so it
    never fires) is still being answered after twice the deadline; then the server stops."""
    errors: list[BaseException] = []

    def get() -> None:
        try:
            httpx.get(hostile.url + path.lstrip("/"), timeout=1.0)
        except httpx.HTTPError as e:
            errors.append(e)

    thread = threading.Thread(target=get, daemon=True)
    thread.start()

    def long_enough() -> bool:
        attacks = hostile.attacks_on(path)
        return not thread.is_alive() or (bool(attacks) and attacks[0].running_for >= 2 * DEADLINE)

    wait_until(long_enough, f"the attack on {path} to run {2 * DEADLINE} s", timeout=60)
    assert thread.is_alive(), f"plain httpx gave up on {path}: {errors}"
    assert hostile.attacks_on(path)[0].ended is None  # still connected, still served
    hostile.honest()  # stops the attack: the connection closes
    thread.join(10)
    assert not thread.is_alive()


def _naive_inflates(url: str, beyond: int) -> tuple[int, int, int]:
    """Plain httpx reading a gzip body: decoded and encoded bytes once more than ``beyond``
    bytes came out (the test stops it there; httpx itself has no cap), and the largest
    piece it decoded at once."""
    decoded = largest = 0
    with httpx.Client() as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        for piece in response.iter_bytes():
            decoded += len(piece)
            largest = max(largest, len(piece))
            if decoded > beyond:
                break
        return decoded, response.num_bytes_downloaded, largest


# ----- slow: every phase under one deadline -----


def test_early_hints_forever(
    hostile: HostileServer, published: dict[str, Any], tmp_path: Path
) -> None:
    """``103 Early Hints`` every 50 ms for the timestamp: httpcore reads past every 1xx, and
    each read brings data, so a per-read timeout never fires; tufpi's deadline covers the
    response head."""
    hostile.attack("/tuf/timestamp.json", hostile_http.early_hints())
    _naive_keeps_reading(hostile, "/tuf/timestamp.json")

    hostile.attack("/tuf/timestamp.json", hostile_http.early_hints())
    result, elapsed, _ = _install(hostile, published, tmp_path)
    said = _refused(
        result,
        r"slow retrieval: no complete response head in (\d+\.\d) s: refreshing the signed "
        r"metadata",
    )
    assert DEADLINE <= float(said[1]) < DEADLINE + 1
    assert elapsed < DEADLINE + MARGIN
    assert not (tmp_path / "target").exists() or not any((tmp_path / "target").iterdir())


def test_response_head_trickled(
    hostile: HostileServer, published: dict[str, Any], tmp_path: Path
) -> None:
    """The wheel's response head a byte every 0.2 s (about 20 s for the head alone)."""
    filename = published["entry"]["filename"]
    plain = "/" + published["path"]
    hostile.attack(_file(filename), hostile_http.trickle_head(0.2))
    _naive_keeps_reading(hostile, plain)

    hostile.attack(_file(filename), hostile_http.trickle_head(0.2))
    result, elapsed, _ = _install(hostile, published, tmp_path)
    said = _refused(
        result,
        r"slow retrieval: no complete response head in (\d+\.\d) s: "
        + re.escape(published["path"]),
    )
    assert DEADLINE <= float(said[1]) < DEADLINE + 1
    assert elapsed < DEADLINE + MARGIN


def test_body_trickled(hostile: HostileServer, published: dict[str, Any], tmp_path: Path) -> None:
    """The snapshot's body a byte every 0.2 s: refused with what arrived in how long."""
    hostile.attack(_role("snapshot"), hostile_http.trickle_body(0.2))
    _naive_keeps_reading(hostile, _snapshot_path(hostile))

    hostile.attack(_role("snapshot"), hostile_http.trickle_body(0.2))
    started = time.monotonic()
    error = _refresh_error(hostile, published, tmp_path)
    assert isinstance(error, SlowDownload), repr(error)
    assert error.phase == "body"
    assert 5 <= error.received <= 1 + DEADLINE / 0.2
    assert DEADLINE <= error.elapsed < DEADLINE + 1
    assert time.monotonic() - started < DEADLINE + 5


def test_the_deadline_holds_on_a_reused_connection(hostile: HostileServer) -> None:
    """The deadline belongs to the download, not to the connection: a kept-alive connection
    that served one honest download is bounded by the next download's deadline when it
    turns hostile (``103 Early Hints`` forever)."""
    url = hostile.url + "tuf/timestamp.json"
    with http_client(None) as client:
        fetcher = _fetcher(client)
        assert b'"timestamp"' in fetcher.get(url, 16384)
        hostile.attack("/tuf/timestamp.json", hostile_http.early_hints())
        started = time.monotonic()
        with pytest.raises(SlowDownload) as caught:
            fetcher.get(url, 16384)
    assert hostile.connections == 1  # the same connection, reused
    assert caught.value.phase == "head"
    assert DEADLINE <= caught.value.elapsed < DEADLINE + 1
    assert time.monotonic() - started < DEADLINE + 1


def _snapshot_path(hostile: HostileServer) -> str:
    """The consistent name of the current snapshot, from the index's timestamp."""
    assert hostile.upstream is not None
    timestamp = httpx.get(hostile.upstream + "tuf/timestamp.json").json()
    version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    return f"/tuf/{version}.snapshot.json"


# ----- much: caps on decoded bytes -----


@pytest.mark.parametrize(("name", "cap"), [("2.root.json", 512000), ("timestamp.json", 16384)])
def test_endless_metadata(
    hostile: HostileServer, published: dict[str, Any], tmp_path: Path, name: str, cap: int
) -> None:
    """A root (the next version ngclient looks for) or a timestamp that never ends: nothing
    signed bounds their length, ngclient's caps do; the naive read has no cap at all."""
    hostile.attack(f"/tuf/{name}", hostile_http.endless(chunk=256 * 1024))
    decoded, _, _ = _naive_inflates(hostile.url + f"tuf/{name}", 20 * cap)
    assert decoded > 20 * cap
    hostile.honest()

    hostile.attack(f"/tuf/{name}", hostile_http.endless(chunk=256 * 1024))
    result, elapsed, rss = _install(hostile, published, tmp_path)
    _refused(
        result,
        re.escape(
            f"endless data: {name!r} is longer than the {cap} bytes the client accepts: "
            "refreshing the signed metadata"
        ),
    )
    assert elapsed < DEADLINE + MARGIN
    assert rss < 200 * 1024 * 1024


_PAGE_SAMPLE = f"/simple/{PROJECT}/{'0' * 64}.index.json"


@pytest.mark.parametrize(
    ("kind", "matches", "sample"),
    [
        ("timestamp", lambda _f: "/tuf/timestamp.json", lambda _p: "/tuf/timestamp.json"),
        ("snapshot", lambda _f: _role("snapshot"), lambda _p: "/tuf/1.snapshot.json"),
        ("bin", lambda _f: _a_bin, lambda _p: "/tuf/1.bin-00.json"),
        ("page", lambda _f: _page_target, lambda _p: _PAGE_SAMPLE),
        ("file", _file, lambda p: "/" + p),
    ],
)
def test_gzip_bomb_for_each_kind(
    hostile: HostileServer,
    published: dict[str, Any],
    tmp_path: Path,
    kind: str,
    matches: Callable[[str], Any],
    sample: Callable[[str], str],
) -> None:
    """About 2 MB of gzip that inflates to 2 GiB, for each kind ngclient reads: the fetcher
    inflates no more than the kind's limit (the signed length of the snapshot, a page or a
    file; ngclient's cap for the timestamp and the bins) plus one byte, in 256 KiB pieces;
    plain httpx inflates a 64 KiB read into 64 MiB at once and goes on."""
    hostile.attack(matches(published["entry"]["filename"]), hostile_http.bomb())
    decoded, encoded, largest = _naive_inflates(
        hostile.url + sample(published["path"]).lstrip("/"), 64 * 1024 * 1024
    )
    assert decoded > 64 * 1024 * 1024  # past every cap of the client (5 MB at most here)
    assert largest >= 16 * 1024 * 1024  # tens of MiB from one read off the network
    assert decoded > 100 * encoded
    tracemalloc.start()
    started = time.monotonic()
    try:
        error = _refresh_error(hostile, published, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, TooLong), repr(error)
    # tufpi's timestamp signs the snapshot's length, and bin-n the targets' lengths; nothing
    # signs the timestamp's, and tufpi's snapshot gives no length for the bins.
    assert error.kind == ("cap" if kind in ("timestamp", "bin") else "signed")
    assert time.monotonic() - started < DEADLINE + 5
    # The kind's cap (at most 5 MB for metadata here), twice over for ngclient's copies, and
    # one piece; 2 GiB inflated would show as gigabytes.
    assert peak < 3 * error.limit + 8 * 1024 * 1024, (peak, error.limit)
    bombed = matches(published["entry"]["filename"])
    refused_path = urlsplit(error.url).path
    assert bombed(refused_path) if callable(bombed) else bombed == refused_path, error.url
    assert len(hostile.attacks) >= 2  # served to plain httpx, then to the client


def test_gzip_bomb_naive_and_through_tufpi_install(
    hostile: HostileServer, published: dict[str, Any], tmp_path: Path
) -> None:
    """The wheel as a bomb: plain httpx inflates it far past the file's signed length (the
    test stops it at 64 MiB); ``tufpi install`` refuses it as not the signed file, with its
    peak memory under 200 MB."""
    filename = published["entry"]["filename"]
    hostile.attack(_file(filename), hostile_http.bomb())
    decoded, encoded, _ = _naive_inflates(hostile.url + published["path"], 64 * 1024 * 1024)
    assert decoded > 64 * 1024 * 1024
    assert decoded > 100 * encoded  # a bomb, not a big file
    hostile.honest()

    hostile.attack(_file(filename), hostile_http.bomb())
    result, elapsed, rss = _install(hostile, published, tmp_path)
    _refused(
        result,
        re.escape(
            "file does not match the signed metadata (longer than its signed length of "
            f"{published['entry']['size']} bytes): {published['path']}"
        ),
    )
    assert elapsed < DEADLINE + MARGIN
    assert rss < 200 * 1024 * 1024, rss


def test_gzip_bomb_through_get_for_a_metadata_file(
    hostile: HostileServer, published: dict[str, Any]
) -> None:
    """``BoundedFetcher.get`` (the PEP 658 ``.metadata`` read) facing the bomb: refused past
    its 10 MiB cap, having inflated no more than the cap and a piece."""
    path = published["path"] + ".metadata"
    hostile.attack("/" + path, hostile_http.bomb())
    tracemalloc.start()
    try:
        with http_client(None) as client, pytest.raises(TooLong) as caught:
            _fetcher(client).get(hostile.url + path, CORE_METADATA_MAX_LENGTH)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.limit == CORE_METADATA_MAX_LENGTH
    assert caught.value.kind == "cap"
    assert peak < 2 * CORE_METADATA_MAX_LENGTH + 4 * 1024 * 1024, peak


def test_stacked_encodings_and_redirects_are_refused(
    hostile: HostileServer, published: dict[str, Any]
) -> None:
    """``gzip, gzip`` (each layer a bomb) is no encoding the client asked for; a redirect is
    not followed, and said to be one."""
    with http_client(None) as client:
        fetcher = _fetcher(client)
        hostile.attack("/stacked", _stacked)
        with pytest.raises(exceptions.DownloadError, match="unsupported content encoding"):
            fetcher.get(hostile.url + "stacked", 1000)
        hostile.attack("/moved", _redirect)
        with pytest.raises(exceptions.DownloadHTTPError, match=r"redirect .* does not follow"):
            fetcher.get(hostile.url + "moved", 1000)


async def _stacked(ex: hostile_http._Exchange) -> None:
    await ex.send(ex.head(**{"content-encoding": "gzip, gzip", "content-length": "0"}))


async def _redirect(ex: hostile_http._Exchange) -> None:
    await ex.send(ex.head(302, location="http://elsewhere.example/", **{"content-length": "0"}))
