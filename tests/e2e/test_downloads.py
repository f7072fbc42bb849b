"""Downloads under /packages/: bytes, hashes, headers, ranges, PEP 658 metadata, traversal."""

from __future__ import annotations

import hashlib
import re
import tarfile
import zipfile
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.server import IndexServer

JSON_V1 = "application/vnd.pypi.simple.v1+json"
PROJECT = "download-demo"
WHEEL = "download_demo-1.0-py3-none-any.whl"
SDIST = "download_demo-1.0.tar.gz"
SECRET = b"the index's private data; never served"


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> dict[str, Path]:
    """An sdist and a wheel uploaded by twine, by filename; and a file the index must not serve."""
    token = index_server.new_user("download-owner")
    dists = make_dists(workdir, PROJECT, "1.0", requires_python=">=3.8")
    result = clients.twine_upload(index_server.url, token, dists)
    assert result.returncode == 0, result.stdout + result.stderr
    (index_server.data_dir / "secret.txt").write_bytes(SECRET)
    return {p.name: p for p in dists}


@pytest.fixture
def http(index_server: IndexServer, published: dict[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=index_server.url, follow_redirects=False) as client:
        yield client


@pytest.fixture
def files(index_server: IndexServer, http: httpx.Client) -> dict[str, dict[str, object]]:
    """The JSON project page's file entries by filename, with ``url`` made absolute."""
    page_url = index_server.simple + f"{PROJECT}/"
    body = http.get(page_url, headers={"accept": JSON_V1}).json()
    return {
        f["filename"]: {**f, "url": str(httpx.URL(page_url).join(f["url"]))} for f in body["files"]
    }


def _url(files: dict[str, dict[str, object]], filename: str) -> str:
    return str(files[filename]["url"])


@pytest.mark.parametrize(
    ("filename", "content_type"), [(WHEEL, "application/zip"), (SDIST, "application/gzip")]
)
def test_download_is_the_uploaded_file(
    http: httpx.Client,
    published: dict[str, Path],
    files: dict[str, dict[str, object]],
    filename: str,
    content_type: str,
) -> None:
    response = http.get(_url(files, filename))
    assert response.status_code == 200
    original = published[filename].read_bytes()
    assert response.content == original
    sha256 = hashlib.sha256(response.content).hexdigest()
    assert files[filename]["hashes"] == {"sha256": sha256}
    assert _url(files, filename).endswith(f"/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{filename}")
    assert int(response.headers["content-length"]) == len(original) == files[filename]["size"]
    assert response.headers["content-type"] == content_type
    cache = response.headers["cache-control"]
    assert "immutable" in cache
    assert "public" in cache
    assert "content-encoding" not in response.headers


def test_html_page_hash_fragment_matches_the_file(
    index_server: IndexServer, http: httpx.Client, published: dict[str, Path]
) -> None:
    page_url = index_server.simple + f"{PROJECT}/"
    html = http.get(page_url, headers={"accept": "text/html"}).text
    found = re.findall(r'<a href="([^"#]+)#sha256=([0-9a-f]{64})"[^>]*>([^<]+)</a>', html)
    assert sorted(name for _, _, name in found) == sorted(published)
    for href, sha256, name in found:
        downloaded = http.get(str(httpx.URL(page_url).join(href)))
        assert downloaded.status_code == 200
        assert hashlib.sha256(downloaded.content).hexdigest() == sha256
        assert downloaded.content == published[name].read_bytes()


def test_range_request(
    http: httpx.Client, published: dict[str, Path], files: dict[str, dict[str, object]]
) -> None:
    original = published[WHEEL].read_bytes()
    response = http.get(_url(files, WHEEL), headers={"range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.content == original[:10]
    assert response.headers["content-range"] == f"bytes 0-9/{len(original)}"
    assert response.headers["content-length"] == "10"


def test_suffix_range_request(
    http: httpx.Client, published: dict[str, Path], files: dict[str, dict[str, object]]
) -> None:
    # What pip's lazy wheel and uv do first: read the zip's central directory at the end.
    original = published[WHEEL].read_bytes()
    size = len(original)
    response = http.get(_url(files, WHEEL), headers={"range": "bytes=-22"})
    assert response.status_code == 206
    assert response.content == original[-22:]
    assert response.headers["content-range"] == f"bytes {size - 22}-{size - 1}/{size}"


def test_middle_and_unsatisfiable_ranges(
    http: httpx.Client, published: dict[str, Path], files: dict[str, dict[str, object]]
) -> None:
    original = published[SDIST].read_bytes()
    size = len(original)
    middle = http.get(_url(files, SDIST), headers={"range": "bytes=5-"})
    assert middle.status_code == 206
    assert middle.content == original[5:]
    beyond = http.get(_url(files, SDIST), headers={"range": f"bytes={size + 10}-{size + 20}"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"


def test_head(
    http: httpx.Client, published: dict[str, Path], files: dict[str, dict[str, object]]
) -> None:
    get = http.get(_url(files, WHEEL))
    head = http.head(_url(files, WHEEL))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(published[WHEEL].stat().st_size)
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == "application/zip"
    assert head.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("suffix", ["", ".metadata"])
def test_etag_and_if_none_match(
    http: httpx.Client, files: dict[str, dict[str, object]], suffix: str
) -> None:
    url = _url(files, WHEEL) + suffix
    first = http.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    sha256 = str(files[WHEEL]["hashes"]["sha256"])  # type: ignore[index]
    assert etag.strip('"').startswith(sha256)
    cached = http.get(url, headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert http.get(url, headers={"if-none-match": '"other"'}).content == first.content


def test_file_and_metadata_etags_differ(
    http: httpx.Client, files: dict[str, dict[str, object]]
) -> None:
    dist = http.get(_url(files, WHEEL)).headers["etag"]
    meta = http.get(_url(files, WHEEL) + ".metadata").headers["etag"]
    assert dist != meta
    assert (
        http.get(_url(files, WHEEL) + ".metadata", headers={"if-none-match": dist}).status_code
        == 200
    )


def test_core_metadata_file_is_the_wheels_metadata(
    index_server: IndexServer,
    http: httpx.Client,
    published: dict[str, Path],
    files: dict[str, dict[str, object]],
) -> None:
    with zipfile.ZipFile(published[WHEEL]) as wheel:
        inside = wheel.read("download_demo-1.0.dist-info/METADATA")
    response = http.get(_url(files, WHEEL) + ".metadata")
    assert response.status_code == 200
    assert response.content == inside
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "immutable" in response.headers["cache-control"]
    digest = hashlib.sha256(response.content).hexdigest()
    assert files[WHEEL]["core-metadata"] == {"sha256": digest}
    html = http.get(index_server.simple + f"{PROJECT}/", headers={"accept": "text/html"}).text
    anchor = next(line for line in html.splitlines() if f">{WHEEL}</a>" in line)
    assert f'data-core-metadata="sha256={digest}"' in anchor
    assert f'data-dist-info-metadata="sha256={digest}"' in anchor


def test_sdist_metadata_file_is_its_pkg_info(
    http: httpx.Client, published: dict[str, Path], files: dict[str, dict[str, object]]
) -> None:
    with tarfile.open(published[SDIST]) as sdist:
        member = sdist.extractfile("download_demo-1.0/PKG-INFO")
        assert member is not None
        inside = member.read()
    response = http.get(_url(files, SDIST) + ".metadata")
    assert response.content == inside
    assert files[SDIST]["core-metadata"] == {"sha256": hashlib.sha256(inside).hexdigest()}


def test_unknown_file_is_404(http: httpx.Client, files: dict[str, dict[str, object]]) -> None:
    url = _url(files, WHEEL)
    assert http.get(url.replace(WHEEL, "download_demo-9.9-py3-none-any.whl")).status_code == 404
    assert http.get(url.rsplit("/", 1)[0] + "/").status_code == 404
    assert http.get("/packages/").status_code == 404
    assert http.get("/packages/nothing/here.whl").status_code == 404


def test_storage_temp_files_are_not_served(
    index_server: IndexServer, http: httpx.Client, files: dict[str, dict[str, object]]
) -> None:
    # A write in progress (temp file, then rename) must never be visible as a download.
    directory = httpx.URL(_url(files, WHEEL)).path.removeprefix("/").rsplit("/", 1)[0]
    partial = index_server.data_dir / "files" / directory / ".tmp-abc123"
    partial.write_bytes(b"half a wheel")
    try:
        response = http.get(f"/{directory}/.tmp-abc123")
        assert response.status_code == 404
        assert b"half a wheel" not in response.content
    finally:
        partial.unlink()


def _raw_get(server: IndexServer, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (httpx would normalise dot segments away)."""
    url = httpx.URL(server.url)
    assert url.port is not None
    conn = HTTPConnection(url.host, url.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


TRAVERSALS = [
    "/packages/../tufpi.sqlite3",
    "/packages/../../tufpi.sqlite3",
    "/packages/../../secret.txt",
    "/packages/../../../../../../etc/passwd",
    "/packages/%2e%2e/%2e%2e/secret.txt",
    "/packages/%2E%2E/%2E%2E/tufpi.sqlite3",
    "/packages/..%2f..%2fsecret.txt",
    "/packages/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/packages/%252e%252e/%252e%252e/secret.txt",
    "/packages/..\\..\\secret.txt",
    "/packages/%2fetc%2fpasswd",
    "/packages//etc/passwd",
    "/packages/./../../secret.txt",
    "/packages/x/../../../secret.txt",
    "/packages/%00/../../secret.txt",
    "/packages/../../serve.log",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_is_404(
    index_server: IndexServer, published: dict[str, Path], target: str
) -> None:
    status, body = _raw_get(index_server, target)
    assert status == 404
    assert SECRET not in body
    assert b"SQLite format 3" not in body
    assert b"root:" not in body
    assert b"Uvicorn running" not in body


def test_traversal_targets_exist(index_server: IndexServer, published: dict[str, Path]) -> None:
    # The traversal test means something only if the files it aims at are really there.
    assert (index_server.data_dir / "secret.txt").read_bytes() == SECRET
    assert (index_server.data_dir / "serve.log").is_file()
    assert (index_server.data_dir / "files" / "packages").is_dir()
