"""The simple API over HTTP: PEP 503 / 691 negotiation, redirects, caching headers."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{JSON_V1}, {HTML_V1}; q=0.1, text/html; q=0.01"
UV_ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"
PROJECT = "Simple.Api-Demo"
NORMALIZED = "simple-api-demo"


@pytest.fixture(scope="module")
def published(index_server: IndexServer, workdir: Path) -> list[Path]:
    """One project with an sdist and a wheel of 1.0 (requires-python >=3.8), uploaded by twine."""
    token = index_server.new_user("simple-api-owner")
    dists = make_dists(workdir, PROJECT, "1.0", requires_python=">=3.8")
    result = clients.twine_upload(index_server.url, token, dists)
    assert result.returncode == 0, result.stdout + result.stderr
    return dists


@pytest.fixture
def http(index_server: IndexServer, published: list[Path]) -> Iterator[httpx.Client]:
    """A client that sends no Accept header unless a request names one."""
    with httpx.Client(base_url=index_server.url, follow_redirects=False) as client:
        del client.headers["accept"]
        yield client


PAGE = f"/simple/{NORMALIZED}/"


@pytest.mark.parametrize("accept", [PIP_ACCEPT, UV_ACCEPT, JSON_V1])
def test_installers_get_json(http: httpx.Client, published: list[Path], accept: str) -> None:
    response = http.get(PAGE, headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_V1
    body = response.json()
    assert body["meta"] == {"api-version": "1.1"}
    assert body["name"] == NORMALIZED
    assert body["versions"] == ["1.0"]
    assert sorted(f["filename"] for f in body["files"]) == sorted(p.name for p in published)
    for entry in body["files"]:
        assert entry["requires-python"] == ">=3.8"
        assert entry["url"].startswith("../../packages/")
        assert set(entry["hashes"]) == {"sha256"}
        assert entry["core-metadata"] == entry["dist-info-metadata"]
        assert set(entry["core-metadata"]) == {"sha256"}
        assert entry["yanked"] is False
        assert (
            entry["size"]
            == next(p for p in published if p.name == entry["filename"]).stat().st_size
        )
        assert entry["upload-time"].endswith("Z")


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        (HTML_V1, HTML_V1),
        ("application/vnd.pypi.simple.latest+html", HTML_V1),
        (f"{JSON_V1};q=0, {HTML_V1}", HTML_V1),
    ],
)
def test_html_by_accept(http: httpx.Client, accept: str | None, content_type: str) -> None:
    headers = {"accept": accept} if accept else {}
    response = http.get(PAGE, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    text = response.text
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta name="pypi:repository-version" content="1.1">' in text
    assert 'data-requires-python="&gt;=3.8"' in text
    assert text.count('data-core-metadata="sha256=') == 2
    assert 'href="../../packages/' in text


def test_format_query_parameter_overrides_accept(http: httpx.Client) -> None:
    response = http.get(PAGE, params={"format": JSON_V1}, headers={"accept": "text/html"})
    assert response.headers["content-type"] == JSON_V1
    assert response.json()["name"] == NORMALIZED
    response = http.get(PAGE, params={"format": "text/html"}, headers={"accept": PIP_ACCEPT})
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert http.get(PAGE, params={"format": "application/json"}).status_code == 406


@pytest.mark.parametrize("path", ["/simple/", PAGE])
@pytest.mark.parametrize("accept", ["application/json", "image/png", "*/*;q=0", "text/html;q=0"])
def test_nothing_acceptable_is_406(http: httpx.Client, path: str, accept: str) -> None:
    response = http.get(path, headers={"accept": accept})
    assert response.status_code == 406
    assert "Not acceptable" in response.text


@pytest.mark.parametrize("accept", [PIP_ACCEPT, "text/html"])
@pytest.mark.parametrize("path", ["/simple/", PAGE])
def test_vary_and_cache_headers(http: httpx.Client, path: str, accept: str) -> None:
    response = http.get(path, headers={"accept": accept})
    assert response.status_code == 200
    vary = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert "accept" in vary
    assert "must-revalidate" in response.headers["cache-control"]


def test_index_lists_the_project(http: httpx.Client) -> None:
    body = http.get("/simple/", headers={"accept": JSON_V1}).json()
    assert body["meta"] == {"api-version": "1.1"}
    assert {"name": PROJECT} in body["projects"]
    html = http.get("/simple/", headers={"accept": "text/html"}).text
    assert f'<a href="{NORMALIZED}/">{PROJECT}</a>' in html


@pytest.mark.parametrize(
    "path",
    [
        f"/simple/{PROJECT}/",
        f"/simple/{PROJECT}",
        "/simple/SIMPLE_API_DEMO/",
        "/simple/simple..api__demo/",
        f"/simple/{NORMALIZED}",
    ],
)
def test_non_normalized_names_and_missing_slash_redirect(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers={"accept": PIP_ACCEPT})
    assert response.status_code == 301
    assert httpx.URL(response.headers["location"]).path == PAGE
    followed = http.get(response.headers["location"], headers={"accept": PIP_ACCEPT})
    assert followed.status_code == 200
    assert followed.json()["name"] == NORMALIZED


def test_redirect_keeps_the_query(http: httpx.Client) -> None:
    response = http.get(f"/simple/{PROJECT}", params={"format": JSON_V1})
    assert response.status_code == 301
    location = httpx.URL(response.headers["location"])
    assert location.path == PAGE
    assert location.params["format"] == JSON_V1


@pytest.mark.parametrize("accept", [PIP_ACCEPT, "text/html"])
def test_unknown_project_is_404(http: httpx.Client, accept: str) -> None:
    assert http.get("/simple/no-such-project/", headers={"accept": accept}).status_code == 404
    redirected = http.get("/simple/No_Such.Project/", follow_redirects=True)
    assert redirected.status_code == 404
    assert redirected.url.path == "/simple/no-such-project/"


@pytest.mark.parametrize("path", ["/simple/", PAGE])
@pytest.mark.parametrize("accept", [PIP_ACCEPT, "text/html"])
def test_etag_and_if_none_match(http: httpx.Client, path: str, accept: str) -> None:
    first = http.get(path, headers={"accept": accept})
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = http.get(path, headers={"accept": accept, "if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = http.get(path, headers={"accept": accept, "if-none-match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == first.content


def test_etag_differs_between_representations(http: httpx.Client) -> None:
    as_json = http.get(PAGE, headers={"accept": JSON_V1})
    as_html = http.get(PAGE, headers={"accept": "text/html"})
    assert as_json.headers["etag"] != as_html.headers["etag"]
    stale = http.get(
        PAGE, headers={"accept": "text/html", "if-none-match": as_json.headers["etag"]}
    )
    assert stale.status_code == 200
    assert stale.headers["content-type"].startswith("text/html")


def test_yank_changes_the_page_and_its_etag(index_server: IndexServer, http: httpx.Client) -> None:
    before = http.get(PAGE, headers={"accept": JSON_V1})
    index_server.cli("yank", PROJECT, "1.0", "--reason", 'broken "build"')
    try:
        after = http.get(PAGE, headers={"accept": JSON_V1, "if-none-match": before.headers["etag"]})
        assert after.status_code == 200
        assert {f["yanked"] for f in after.json()["files"]} == {'broken "build"'}
        html = http.get(PAGE, headers={"accept": "text/html"}).text
        assert html.count('data-yanked="broken &quot;build&quot;"') == 2
    finally:
        index_server.cli("yank", "--undo", PROJECT, "1.0")
    restored = http.get(PAGE, headers={"accept": JSON_V1})
    assert restored.content == before.content
    assert restored.headers["etag"] == before.headers["etag"]


def test_head_on_a_page(http: httpx.Client) -> None:
    response = http.head(PAGE, headers={"accept": JSON_V1})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_V1
    assert response.content == b""


# -- pages by content hash (TUF consistent snapshots) ---------------------------------------------


@pytest.mark.parametrize(("accept", "suffix"), [("text/html", "html"), (JSON_V1, "json")])
def test_page_by_its_hash_is_the_same_page(http: httpx.Client, accept: str, suffix: str) -> None:
    page = http.get(PAGE, headers={"accept": accept})
    sha256 = hashlib.sha256(page.content).hexdigest()
    by_hash = http.get(f"{PAGE}{sha256}.index.{suffix}")
    assert by_hash.status_code == 200
    assert by_hash.content == page.content
    assert "immutable" in by_hash.headers["cache-control"]
    assert http.get(f"{PAGE}{'0' * 64}.index.{suffix}").status_code == 404
    assert http.get(f"/simple/{PROJECT}/{sha256}.index.{suffix}").status_code == 404


@pytest.mark.parametrize("name", ["index.html", f"{'A' * 64}.index.html", f"{'a' * 64}.index.txt"])
def test_other_names_under_a_project_are_404(http: httpx.Client, name: str) -> None:
    assert http.get(f"{PAGE}{name}").status_code == 404


# -- a private index ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_index(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[tuple[IndexServer, str]]:
    """A second index on its own database with TUFPI_PRIVATE=1, the project uploaded; a token."""
    with contextlib.ExitStack() as stack:
        url = None
        if database_url is not None:
            url = stack.enter_context(server_support.postgres_database())
        srv = server_support.start(tmp_path_factory.mktemp("private"), url, private="1")
        stack.callback(srv.stop)
        token = srv.new_user("simple-api-private")
        dists = make_dists(workdir / "private", PROJECT, "1.0")
        result = clients.twine_upload(srv.url, token, dists)
        assert result.returncode == 0, result.stdout + result.stderr
        yield srv, token


def _private_page(private_index: tuple[IndexServer, str]) -> tuple[httpx.Response, str]:
    srv, token = private_index
    page = httpx.get(srv.simple + f"{NORMALIZED}/", auth=("__token__", token))
    assert page.status_code == 200
    by_hash = f"{srv.simple}{NORMALIZED}/{hashlib.sha256(page.content).hexdigest()}.index.html"
    return page, by_hash


def test_private_pages_are_private(private_index: tuple[IndexServer, str]) -> None:
    srv, token = private_index
    page, by_hash = _private_page(private_index)
    assert page.headers["cache-control"].startswith("private,")
    assert "public" not in page.headers["cache-control"]
    for url in (srv.simple, srv.simple + f"{NORMALIZED}/", by_hash):
        assert httpx.get(url).status_code == 401, url
    assert httpx.get(by_hash, auth=("__token__", token)).content == page.content


def test_private_page_by_hash_is_not_public(private_index: tuple[IndexServer, str]) -> None:
    _, token = private_index
    _, by_hash = _private_page(private_index)
    response = httpx.get(by_hash, auth=("__token__", token))
    assert response.status_code == 200
    assert "public" not in response.headers["cache-control"]


def test_private_pages_for_people_need_a_token(private_index: tuple[IndexServer, str]) -> None:
    """The pages for people (issue 16) are read as the simple API is: not without a token."""
    srv, token = private_index
    for path in (f"project/{NORMALIZED}/", f"project/{NORMALIZED}/history/", "search/?q=a",
                 "trust/"):  # fmt: skip
        assert httpx.get(srv.url + path).status_code == 401, path
        allowed = httpx.get(srv.url + path, auth=("__token__", token))
        assert allowed.status_code == 200, path
        assert "public" not in allowed.headers.get("cache-control", ""), path
    # The home page says how to use the index, and nothing of what it holds.
    assert 'id="counts"' not in httpx.get(srv.url).text
