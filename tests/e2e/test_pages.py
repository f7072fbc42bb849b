"""The pages for people on a real server (SQLite and PostgreSQL), after real twine uploads:
the project and release pages (latest release as PyPI picks it, yanks with their reason,
files with their uploader, bin role and publishing snapshot), the history, search, the trust
page, caching (ETag, 304), the 404 page, the simple API unchanged, and user data that tries
to inject script rendered inert."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.server import IndexServer
from tests.support.tuf_client import wait_for_target
from tests.support.waiting import wait_until
from tests.support.wheelfile import zip_wheel
from tufpi.trust import layout

SCRIPT = "<script>alert(1)</script>"
BINS = 64  # tests.support.server's default


def wheel(
    directory: Path, name: str, version: str, *, headers: str = "", description: str = ""
) -> Path:
    """A small wheel whose METADATA carries ``headers`` (extra lines) and ``description``."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{headers}\n{description}"
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    path.write_bytes(zip_wheel(files, info))
    return path


DEMO_HEADERS = (
    "Summary: Pages demo for people\n"
    "Requires-Python: >=3.9\n"
    "Requires-Dist: httpx>=0.27\n"
    "Requires-Dist: rich; extra == 'fancy'\n"
    "Project-URL: Source, https://src.example/pages-demo\n"
    "Description-Content-Type: text/markdown\n"
)
EVIL_HEADERS = (
    f"Summary: {SCRIPT} summary\n"
    f"Author: {SCRIPT} author\n"
    f"Keywords: {SCRIPT},keyword\n"
    "Home-page: javascript:alert(1)\n"
    "Project-URL: Docs, javascript:alert(document.cookie)\n"
    'Project-URL: Quote, https://x.example/"><script>alert(1)</script>\n'
    "Description-Content-Type: text/markdown\n"
)
EVIL_DESCRIPTION = (
    f"# Evil\n\n{SCRIPT}\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n"
)


def upload(server: IndexServer, token: str, files: list[Path]) -> None:
    result = clients.twine_upload(server.url, token, files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def uploaded(index_server: IndexServer, workdir: Path) -> dict[str, str]:
    """pages-demo 1.0, 1.1 (yanked), 2.0rc1; evil-pages 1.0 (yanked, hostile everywhere);
    the simple page's bytes of pages-demo once all is published."""
    token = index_server.new_user("page-maker")
    files = [
        wheel(workdir / "d", "Pages_Demo", v, headers=DEMO_HEADERS,
              description=f"# Demo {v}\n\n*emphasis*\n")
        for v in ("1.0", "1.1", "2.0rc1")
    ]  # fmt: skip
    files.append(
        wheel(workdir / "e", "evil-pages", "1.0", headers=EVIL_HEADERS,
              description=EVIL_DESCRIPTION)
    )  # fmt: skip
    upload(index_server, token, files)
    index_server.cli_each(
        ["yank", "pages-demo", "1.1", "--reason", "Broken build, use 1.0"],
        ["yank", "evil-pages", "1.0", "--reason", f"{SCRIPT} reason"],
    )
    page = httpx.get(f"{index_server.simple}pages-demo/").content
    wait_for_target(
        index_server, workdir, "simple/pages-demo/index.html", hashlib.sha256(page).hexdigest()
    )
    return {"token": token, "simple_sha256": hashlib.sha256(page).hexdigest()}


def get(server: IndexServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers)


def test_project_page_shows_the_latest_release_as_pypi_picks_it(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    moved = get(index_server, "project/Pages_Demo/")
    assert (moved.status_code, moved.headers["location"]) == (
        301, index_server.url + "project/pages-demo/",
    )  # fmt: skip
    response = get(index_server, "project/pages-demo/")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page = response.text
    # 1.1 is yanked and 2.0rc1 a pre-release: 1.0 is the latest.
    assert '<span id="release-version">1.0</span>' in page
    assert '<p class="summary" id="summary">Pages demo for people</p>' in page
    assert '<dd id="requires-python">&gt;=3.9</dd>' in page
    assert "<code>httpx&gt;=0.27</code>" in page
    assert '<a href="https://src.example/pages-demo" rel="nofollow noopener">' in page
    assert re.search(r"<h1[^>]*>Demo 1\.0<", page)  # markdown rendered
    assert "<em>emphasis</em>" in page
    assert '<span class="yanked">Broken build, use 1.0</span>' in page  # in the history
    assert '<span class="badge">pre-release</span>' in page


def test_files_show_uploader_bin_and_the_snapshot_that_published_them(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    page = get(index_server, "project/pages-demo/1.0/").text
    found = re.search(r'<a href="/(packages/[^"]+/Pages_Demo-1\.0-py3-none-any\.whl)">', page)
    assert found is not None, page
    path = found.group(1)
    role = layout.bin_name(layout.bin_index(path, BINS), BINS)
    row = re.search(
        r'<td class="uploader">(.*?)</td>\s*<td class="signed">(.*?)</td>', page[found.end() :]
    )
    assert row is not None
    uploader, signed = row.groups()
    assert uploader == "page-maker"
    published = re.fullmatch(rf"{role}, snapshot (\d+)", signed)
    assert published is not None, signed
    # The history page's transaction log says the same snapshot published that file.
    history = get(index_server, "project/pages-demo/history/").text
    assert re.search(
        rf'<td class="hash">{re.escape(path)}</td><td>page-maker</td>'
        rf"<td>snapshot {published.group(1)}</td>",
        history,
    ), history
    # Its journal: who uploaded and who yanked, and how.
    assert re.search(r"<td>file added</td><td>page-maker</td><td>token \d+</td>", history)
    assert "<td>release yanked</td><td>admin</td><td>server</td>" in history
    snapshot = httpx.get(index_server.url + "tuf/timestamp.json").json()
    assert int(published.group(1)) <= snapshot["signed"]["meta"]["snapshot.json"]["version"]


def test_a_yanked_release_page_shows_its_reason(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    page = get(index_server, "project/pages-demo/1.1/").text
    assert '<p class="notice yanked" id="yanked-notice">' in page
    assert '<span id="yank-reason">Broken build, use 1.0</span>' in page
    assert get(index_server, "project/pages-demo/1.1.0/").status_code == 200  # same release
    missing = get(index_server, "project/pages-demo/9.9/")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")


def test_an_unknown_project_is_an_html_404_page(index_server: IndexServer) -> None:
    response = get(index_server, f"project/no-such-{'x' * 10}/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert "content-security-policy" in response.headers


def test_pages_revalidate_with_an_etag_and_change_with_the_project(
    index_server: IndexServer, uploaded: dict[str, str], workdir: Path
) -> None:
    first = get(index_server, "project/pages-demo/")
    etag = first.headers["etag"]
    assert "no-cache" in first.headers["cache-control"]
    assert get(index_server, "project/pages-demo/", **{"if-none-match": etag}).status_code == 304
    upload(index_server, uploaded["token"],
           [wheel(workdir / "d2", "Pages_Demo", "1.2", headers=DEMO_HEADERS)])  # fmt: skip
    after = get(index_server, "project/pages-demo/", **{"if-none-match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert '<span id="release-version">1.2</span>' in after.text
    # Once signed the file's "pending" becomes its snapshot: the page (and its ETag) follow.
    wait_until(
        lambda: (
            "Pages_Demo-1.2" in (page := get(index_server, "project/pages-demo/").text)
            and ", pending</td>" not in page
        ),
        "the new file's snapshot never showed",
    )


def test_search_finds_names_and_summaries_and_survives_hostile_queries(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    page = get(index_server, "search/?q=pages").text
    names = re.findall(r'<a class="result" href="/project/([^/]+)/">', page)
    assert set(names) == {"pages-demo", "evil-pages"}
    exact = get(index_server, "search/?q=Evil_Pages").text
    assert re.findall(r'<a class="result" href="/project/([^/]+)/">', exact)[0] == "evil-pages"
    by_summary = get(index_server, "search/?q=people").text
    assert re.findall(r'class="result" href="/project/([^/]+)/"', by_summary) == ["pages-demo"]
    for hostile in ['"', "*", 'NEAR("a" "b")', "x" * 10_000, "é\u0301 \U0001f600", SCRIPT]:
        response = httpx.get(index_server.url + "search/", params={"q": hostile, "page": "-1"})
        assert response.status_code == 200, hostile
        assert "<script>" not in response.text


def test_search_answers_revalidate_and_follow_an_upload_at_once(
    index_server: IndexServer, uploaded: dict[str, str], workdir: Path
) -> None:
    """Search answers are cached: the same answer (and ETag) for the same query as shown,
    304 on revalidation; the upload of a match changes the very next answer."""
    first = get(index_server, "search/?q=Searchcache")
    etag = first.headers["etag"]
    assert "no-cache" in first.headers["cache-control"]
    assert "searchcache-demo" not in first.text
    assert get(index_server, "search/?q=searchcache").headers["etag"] == etag
    assert get(index_server, "search/?q=searchcache", **{"if-none-match": etag}).status_code == 304
    upload(index_server, uploaded["token"], [wheel(workdir / "s", "searchcache-demo", "1.0")])
    after = get(index_server, "search/?q=searchcache", **{"if-none-match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert 'href="/project/searchcache-demo/"' in after.text


def test_user_data_cannot_inject_script(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    pages = [
        get(index_server, "project/evil-pages/"),
        get(index_server, "project/evil-pages/1.0/"),
        get(index_server, "search/?q=evil"),
        get(index_server, "project/evil-pages/history/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert "script-src" not in response.headers["content-security-policy"]
        assert "<script" not in response.text.lower()
        assert not re.search(r"""href=["']?\s*javascript:""", response.text, re.I)
        assert "onerror" not in response.text.lower() or "onerror=" not in response.text
    page = pages[0].text
    # Shown, escaped, as text: the summary, author, keywords, yank reason, unsafe URLs.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; summary" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; author" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; reason" in page
    assert '<code class="unsafe-link">javascript:alert(document.cookie)</code>' in page
    assert "<h1" in page
    assert "Evil" in page


def test_the_simple_api_is_the_signed_target_unchanged(
    index_server: IndexServer, uploaded: dict[str, str]
) -> None:
    body = httpx.get(f"{index_server.simple}pages-demo/").content
    signed = wait_for_target(index_server, index_server.data_dir, "simple/pages-demo/index.html")
    assert hashlib.sha256(body).hexdigest() == signed.hashes["sha256"]
    assert body.startswith(
        b'<!DOCTYPE html>\n<html><head>\n<meta name="pypi:repository-version" content="1.1">\n'
        b"<title>Links for "
    )
    assert b"stylesheet" not in body
    assert b"<header" not in body


def test_home_and_trust_pages(index_server: IndexServer, uploaded: dict[str, str]) -> None:
    home = get(index_server, "").text
    counts = re.search(r'<p id="counts">([\d,]+) projects, ([\d,]+) releases', home)
    assert counts is not None
    assert int(counts.group(1).replace(",", "")) >= 2
    assert '<pre id="root-sha256">' in home
    assert 'action="/search/"' in home
    trust = get(index_server, "trust/?project=Pages_Demo").text
    for role in ("root", "targets", "bins", "bin-n", "snapshot", "timestamp"):
        assert f"<tr><td>{role}</td>" in trust
    assert re.search(r'<p id="log-size">\d+ entries', trust)
    root = httpx.get(index_server.url + "tuf/root.json").json()["signed"]["roles"]["root"]
    shown = re.search(r"<tr><td>root</td>.*?<span class=\"hash\">(.*?)</span> \((\d) of", trust)
    assert shown is not None
    assert shown.group(1).split(", ") == root["keyids"]
    assert int(shown.group(2)) == root["threshold"]
    assert re.search(r'<span id="last-publication">[\d-]+ [\d:]+ UTC</span>', trust)
    assert "simple/pages-demo/index.html" in trust
    assert "simple/evil-pages/" not in trust  # only the project asked for
    # The last publications, from the transparency log: the newest is the snapshot served.
    snapshot = httpx.get(index_server.url + "tuf/timestamp.json").json()["signed"]["meta"]
    published = re.findall(r"<tr><td>[\d-]+ [\d:]+</td><td>(\d+)</td><td>(\d+)</td>", trust)
    assert published, "no publication shown"
    newest = [int(v) for v in published[0]]
    assert newest[0] <= snapshot["snapshot.json"]["version"]
    assert [int(s) for s, _t in published] == sorted((int(s) for s, _t in published), reverse=True)
