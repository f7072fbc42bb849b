"""Reading upstream indexes for real: a pypiserver (PEP 503 HTML) and a tufpi (PEP 691 JSON)
on 127.0.0.1, a PyPI-shaped page served by a small server, and hostile upstreams (refused,
silent, trickling, endless, bombs, 5xx, garbage, redirect loops, too many links, files whose
bytes are not the listed ones). Each refusal names the upstream and the cause, within a
bounded time, and returns nothing partial."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.simple_data import Dist, sdist, wheel
from tests.support import hostile_http
from tests.support.hostile_http import HostileServer
from tests.support.importing import pypiserver
from tests.support.server import IndexServer, free_port, start
from tests.support.uploads import post_wheel, tiny_wheel
from tests.support.upstream_pages import pypi_page
from tests.support.waiting import wait_until
from tufpi.upstream import Upstream, UpstreamBounds, UpstreamError, UpstreamFile, Upstreams

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Tight bounds for the hostile cases: one second per page, far longer between two reads (so
# only the total deadline can end a trickle), small caps.
TIGHT = UpstreamBounds(
    connect_seconds=1,
    read_seconds=5,
    page_seconds=1,
    file_seconds=1,
    page_max_bytes=1024 * 1024,
    file_max_bytes=1024 * 1024,
    metadata_max_bytes=64 * 1024,
    max_files=100,
    max_redirects=3,
)
# What a refusal may take beyond its deadline (a loaded machine, two workers).
SLACK = 1.5


@dataclasses.dataclass(frozen=True)
class Pypiserver:
    url: str
    dists: list[Dist]


@pytest.fixture(scope="module")
def pypi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pypiserver]:
    packages = tmp_path_factory.mktemp("pypiserver") / "packages"
    packages.mkdir()
    dists = [wheel("up-demo", "1.0"), sdist("up-demo", "1.0"), wheel("up-other", "2.0")]
    for dist in dists:
        (packages / dist.filename).write_bytes(dist.content)
    with pypiserver(packages) as url:
        yield Pypiserver(url, dists)


def timed(action: Callable[[], object]) -> tuple[UpstreamError, float]:
    """The UpstreamError ``action`` raises, and how long it took to."""
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        action()
    return caught.value, time.monotonic() - started


def answer(status: int, body: bytes, content_type: str, **headers: str) -> hostile_http.Action:
    """A hostile server's rule answering ``status`` with ``body`` as it is."""

    async def act(ex: hostile_http._Exchange) -> None:
        extra = {"content-type": content_type, "content-length": str(len(body)), **headers}
        await ex.send(ex.head(status, **extra) + body)

    return act


@pytest.fixture
def hostile(pypi: Pypiserver) -> Iterator[HostileServer]:
    """A hostile server in front of the pypiserver: honest until a rule says otherwise."""
    with hostile_http.running(pypi.url.removesuffix("simple/")) as server:
        yield server


# ----- honest upstreams -----


def test_a_pypiserver_page_and_its_files(pypi: Pypiserver, tmp_path: Path) -> None:
    demo = {d.filename: d for d in pypi.dists if d.name == "up-demo"}
    with Upstream(pypi.url) as upstream:
        project = upstream.project("up-demo")
        assert project is not None
        assert project.upstream == pypi.url
        assert {f.filename for f in project.files} == set(demo)
        assert project.skipped == ()  # up-other's wheel is on its own page
        for file in project.files:
            assert file.sha256 == demo[file.filename].sha256
            assert file.url.startswith("http://127.0.0.1:")
            out = io.BytesIO()
            digests = upstream.download(file, out)
            assert out.getvalue() == demo[file.filename].content
            assert digests.sha256 == file.sha256
            assert digests.sha512 == hashlib.sha512(out.getvalue()).hexdigest()
            assert digests.size == len(out.getvalue())
            assert upstream.size_of(file) == digests.size  # a HEAD: pypiserver lists no sizes
        assert upstream.project("no-such-project") is None


def _tufpi_with_upload(tmp_path: Path) -> tuple[IndexServer, bytes]:
    server = start(tmp_path / "index")
    token = server.new_user("owner")
    with httpx.Client() as client:
        response = post_wheel(client, server.url, token, "json-demo", "1.0")
        assert response.status_code == 200, response.text
    server.cli("yank", "json-demo", "1.0", "--reason", "superseded")
    return server, tiny_wheel("json-demo", "1.0")[1]


def test_a_tufpi_json_page_with_sizes_metadata_and_yanks(tmp_path: Path) -> None:
    server, content = _tufpi_with_upload(tmp_path)
    try:
        with Upstream(server.simple) as upstream:
            project = upstream.project("json-demo")
            assert project is not None
            [file] = project.files
            assert file.filename == "json_demo-1.0-py3-none-any.whl"
            assert (file.size, file.sha256) == (len(content), hashlib.sha256(content).hexdigest())
            assert file.yanked == "superseded"
            assert file.upload_time is not None  # PEP 700: only the JSON page says it
            assert file.core_metadata_sha256 is not None
            metadata = upstream.core_metadata(file)
            assert b"Name: json-demo" in metadata
            assert hashlib.sha256(metadata).hexdigest() == file.core_metadata_sha256
            out = io.BytesIO()
            assert upstream.download(file, out).sha256 == file.sha256
            assert out.getvalue() == content
    finally:
        server.stop()


def test_a_pypi_shaped_page_is_read_and_its_files_checked() -> None:
    content = wheel("demo-project", "1.0").content
    metadata = b"Metadata-Version: 2.1\nName: Demo.Project\nVersion: 1.0\n\n"
    with hostile_http.running() as server:
        page = pypi_page()
        whl = page["files"][0]
        whl["url"] = server.url + "f/" + whl["filename"]
        whl["hashes"] = {"sha256": hashlib.sha256(content).hexdigest()}
        whl["size"] = len(content)
        whl["core-metadata"] = {"sha256": hashlib.sha256(metadata).hexdigest()}
        body = json.dumps(page).encode()
        server.attack("/simple/demo-project/", answer(200, body, JSON_TYPE))
        server.attack("/f/" + whl["filename"], answer(200, content, "application/octet-stream"))
        server.attack(
            "/f/" + whl["filename"] + ".metadata", answer(200, metadata, "application/octet-stream")
        )
        with Upstream(server.url + "simple/") as upstream:
            project = upstream.project("demo-project")
            assert project is not None
            assert project.name == "Demo.Project"
            file = project.files[0]
            assert (file.requires_python, file.yanked) == (">=3.8", False)
            assert file.provenance is not None
            assert file.provenance.endswith("/provenance")
            assert project.files[1].yanked == "broken build"
            assert upstream.core_metadata(file) == metadata
            other = dataclasses.replace(file, core_metadata_sha256="0" * 64)
            error, _ = timed(lambda: upstream.core_metadata(other))
            assert str(error) == (
                f"upstream {upstream.base_url} sent bytes whose sha256 is "
                f"{hashlib.sha256(metadata).hexdigest()}, its page said {'0' * 64} "
                f"(the metadata of {file.filename})"
            )
            out = io.BytesIO()
            assert upstream.download(file, out).size == len(content)


# ----- hostile upstreams: the page -----


def test_a_refused_connection() -> None:
    url = f"http://127.0.0.1:{free_port()}/simple/"
    error, elapsed = timed(lambda: Upstream(url, TIGHT).project("up-demo"))
    assert str(error).startswith(f"upstream {url} could not be reached: ")
    assert str(error).endswith("(the page of 'up-demo')")
    assert not error.timed_out
    assert elapsed < SLACK


SILENT = {
    "103 Early Hints forever": hostile_http.early_hints(0.05),
    "the head a byte at a time": hostile_http.trickle_head(0.05),
}


@pytest.mark.parametrize("attack", sorted(SILENT))
def test_a_response_head_that_never_comes(hostile: HostileServer, attack: str) -> None:
    hostile.attack("/simple/up-demo/", SILENT[attack])
    upstream = Upstream(hostile.url + "simple/", TIGHT)
    error, elapsed = timed(lambda: upstream.project("up-demo"))
    assert str(error).startswith(f"upstream {upstream.base_url} did not answer in 1.")
    assert error.timed_out  # a gateway's 504
    assert 1 <= elapsed < 1 + SLACK


def test_a_trickling_body_is_cut_at_the_deadline_where_plain_httpx_reads_on(
    hostile: HostileServer,
) -> None:
    hostile.attack("/simple/up-demo/", hostile_http.trickle_body(0.05))
    # The naive path: httpx's timeout is per read, and every read brings a byte.
    naive_done: list[float] = []

    def plain() -> None:
        with contextlib.suppress(httpx.HTTPError):  # cut off when the attack is stopped
            httpx.get(hostile.url + "simple/up-demo/", timeout=1.0)
        naive_done.append(time.monotonic())

    threading.Thread(target=plain, daemon=True).start()
    wait_until(lambda: hostile.attacks_on("/simple/up-demo/"), "the naive client's attack")
    naive = hostile.attacks_on("/simple/up-demo/")[0]
    wait_until(lambda: naive.running_for > 3, "3 s of trickle", timeout=10)
    assert not naive_done
    assert naive.ended is None

    upstream = Upstream(hostile.url + "simple/", TIGHT)
    error, elapsed = timed(lambda: upstream.project("up-demo"))
    assert str(error).startswith(f"upstream {upstream.base_url} sent ")
    assert "bytes in 1." in str(error)
    assert "had not finished by the 1 s allowed (the page of 'up-demo')" in str(error)
    assert error.timed_out
    assert 1 <= elapsed < 1 + SLACK
    hostile.honest()


def test_an_endless_page(hostile: HostileServer) -> None:
    hostile.attack("/simple/up-demo/", hostile_http.endless())
    upstream = Upstream(hostile.url + "simple/", dataclasses.replace(TIGHT, page_seconds=30))
    error, elapsed = timed(lambda: upstream.project("up-demo"))
    assert (
        str(error) == f"upstream {upstream.base_url} sent more than 1 MiB (the page of 'up-demo')"
    )
    assert elapsed < 10


def test_a_gzip_bomb_stops_at_the_page_cap(hostile: HostileServer) -> None:
    hostile.attack("/simple/up-demo/", hostile_http.bomb())  # 2 GiB inflated
    upstream = Upstream(hostile.url + "simple/", dataclasses.replace(TIGHT, page_seconds=30))
    error, elapsed = timed(lambda: upstream.project("up-demo"))
    assert (
        str(error) == f"upstream {upstream.base_url} sent more than 1 MiB (the page of 'up-demo')"
    )
    assert elapsed < 5


GARBAGE = {
    "503": (
        answer(503, b"down for maintenance", "text/plain"),
        "answered 503 (the page of 'up-demo')",
    ),
    "plain text": (
        answer(200, b"hello", "text/plain; charset=utf-8"),
        "sent a page that is not a simple API page: its content type is "
        "'text/plain; charset=utf-8' (the page of 'up-demo')",
    ),
    "invalid JSON": (
        answer(200, b"{not json", JSON_TYPE),
        "sent a page that is not a simple API page: not JSON: ",
    ),
    "JSON that is not UTF-8": (
        answer(200, b'{"files": "\xff"}', JSON_TYPE),
        "sent a page that is not a simple API page: its JSON is not UTF-8",
    ),
    "another project's page": (
        answer(200, json.dumps({"name": "evil", "files": []}).encode(), JSON_TYPE),
        "sent the page of project evil when asked for 'up-demo'",
    ),
    "API version 2": (
        answer(200, json.dumps({"meta": {"api-version": "2.0"}}).encode(), JSON_TYPE),
        "simple API version '2.0' is not 1.x",
    ),
    "too many links": (
        answer(200, b'<a href="up_demo-1.0.tar.gz">x</a>' * 101, "text/html"),
        "sent a page that is not a simple API page: more than 100 links",
    ),
    "a redirect loop": (
        answer(302, b"", "text/plain", location="/simple/up-demo/"),
        "redirected more than 3 times (the page of 'up-demo')",
    ),
    "a redirect to file:": (
        answer(302, b"", "text/plain", location="file:///etc/passwd"),
        "redirected to file:///etc/passwd, which is not an http(s) URL",
    ),
    "a redirect with no Location": (
        answer(301, b"", "text/plain"),
        "answered 301 with no Location",
    ),
    "an unknown encoding": (
        answer(200, b"xx", "text/html", **{"content-encoding": "br"}),
        "sent a body tufpi cannot decode: unsupported content encoding 'br'",
    ),
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_garbage_is_refused_naming_the_cause(hostile: HostileServer, case: str) -> None:
    action, expected = GARBAGE[case]
    hostile.attack("/simple/up-demo/", action)
    upstream = Upstream(hostile.url + "simple/", TIGHT)
    error, elapsed = timed(lambda: upstream.project("up-demo"))
    assert str(error).startswith(f"upstream {upstream.base_url} ")
    assert expected in str(error)
    assert not error.timed_out  # a gateway's 502
    assert elapsed < SLACK


# ----- hostile upstreams: the files -----


def _listed(pypi: Pypiserver, base: str, **changes: object) -> UpstreamFile:
    with Upstream(base) as upstream:
        project = upstream.project("up-demo")
    assert project is not None
    file = next(f for f in project.files if f.filename.endswith(".whl"))
    return dataclasses.replace(file, **changes)  # type: ignore[arg-type]


def test_a_file_whose_bytes_are_not_the_listed_ones(pypi: Pypiserver) -> None:
    wrong = "0" * 64
    file = _listed(pypi, pypi.url, sha256=wrong)
    with Upstream(pypi.url, TIGHT) as upstream:
        error, _ = timed(lambda: upstream.download(file, io.BytesIO()))
        right = hashlib.sha256(next(d.content for d in pypi.dists if d.filename == file.filename))
        assert str(error) == (
            f"upstream {pypi.url} sent bytes whose sha256 is {right.hexdigest()}, its page "
            f"said {wrong} (file {file.filename})"
        )
        short = _listed(pypi, pypi.url, size=10)
        error, _ = timed(lambda: upstream.download(short, io.BytesIO()))
        assert str(error) == f"upstream {pypi.url} sent more than 10 bytes (file {file.filename})"
        long = _listed(pypi, pypi.url, size=10**6)
        error, _ = timed(lambda: upstream.download(long, io.BytesIO()))
        assert "bytes, its page said 1000000 (file " in str(error)
        missing = dataclasses.replace(file, url=file.url + ".gone")
        error, _ = timed(lambda: upstream.download(missing, io.BytesIO()))
        assert str(error) == f"upstream {pypi.url} answered 404 (file {file.filename})"
        error, _ = timed(lambda: upstream.core_metadata(file))
        assert "lists no sha256 for it, so it cannot be checked" in str(error)


def test_a_file_listed_past_the_cap_is_not_fetched(
    pypi: Pypiserver, hostile: HostileServer
) -> None:
    base = hostile.url + "simple/"
    huge = _listed(pypi, base, size=10**9)
    asked = len(hostile.requests)
    with Upstream(base, TIGHT) as upstream:
        error, elapsed = timed(lambda: upstream.download(huge, io.BytesIO()))
    assert str(error) == (
        f"upstream {base} lists it at 1000000000 bytes, more than the 1 MiB allowed "
        f"(file {huge.filename})"
    )
    assert len(hostile.requests) == asked  # refused before asking upstream
    assert elapsed < SLACK


def test_a_file_download_is_bounded_in_time_and_bytes(
    pypi: Pypiserver, hostile: HostileServer
) -> None:
    base = hostile.url + "simple/"
    file = _listed(pypi, base)
    path = "/" + file.url.split("/", 3)[3]
    hostile.attack(path, hostile_http.trickle_body(0.05))
    upstream = Upstream(base, TIGHT)
    error, elapsed = timed(lambda: upstream.download(file, io.BytesIO()))
    assert "had not finished by the 1 s allowed (file " in str(error)
    assert 1 <= elapsed < 1 + SLACK
    hostile.honest()
    hostile.attack(path, hostile_http.endless())
    unlisted = dataclasses.replace(file, size=None)
    endless = Upstream(base, dataclasses.replace(TIGHT, file_seconds=30))
    error, elapsed = timed(lambda: endless.download(unlisted, io.BytesIO()))
    assert str(error) == f"upstream {base} sent more than 1 MiB (file {file.filename})"
    assert elapsed < 10


# ----- the list of upstreams -----


def test_upstreams_in_order_and_a_failure_is_not_passed_over(pypi: Pypiserver) -> None:
    # The first upstream answers 404 to everything: the second one's page is used.
    with (
        hostile_http.running() as empty,
        Upstreams([empty.url + "simple/", pypi.url]) as upstreams,
    ):
        project = upstreams.project("up-demo")
        assert project is not None
        assert project.upstream == pypi.url
        assert upstreams.of(project).base_url == pypi.url
        assert upstreams.project("no-such-project") is None
    down = f"http://127.0.0.1:{free_port()}/simple/"
    with Upstreams([down, pypi.url], TIGHT) as upstreams:
        # The first (say, private) upstream is down: a later one must not answer for it.
        error, elapsed = timed(lambda: upstreams.project("up-demo"))
        assert str(error).startswith(f"upstream {down} could not be reached")
        assert elapsed < SLACK
