"""What the project pages show, built from plain values (pure): links only from http(s)
URLs, the description rendered and sanitised or shown as text, the files' signing status."""

from __future__ import annotations

import datetime as dt

import pytest

from tufpi.index.showcase import Signing
from tufpi.index.views import FileView, ReleaseView
from tufpi.web import pages_view as view
from tufpi.web.templating import render

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org/x", True),
        ("http://example.org", True),
        ("HTTPS://example.org", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//example.org/x", False),
        ("https://", False),
        ("https://exa\nmple.org", False),
        ("ftp://example.org/", False),
        ("", False),
    ],
)
def test_only_http_urls_become_links(url: str, safe: bool) -> None:
    assert view.is_http_url(url) is safe


def test_links_come_from_home_page_and_project_urls() -> None:
    metadata = {
        "home_page": "https://home.example/",
        "project_urls": {"Source": "https://src.example/", "Evil": "javascript:alert(1)"},
    }
    assert view.links(metadata) == [
        view.Link("Homepage", "https://home.example/", True),
        view.Link("Source", "https://src.example/", True),
        view.Link("Evil", "javascript:alert(1)", False),
    ]
    assert view.links({}) == []


@pytest.mark.parametrize(
    ("content_type", "text", "expected"),
    [
        ("text/markdown", "# Title\n\n*hi*", "<em>hi</em>"),
        ("text/markdown; variant=CommonMark", "**b**", "<strong>b</strong>"),
        ("text/x-rst", "Title\n=====\n\n*hi*", "<em>hi</em>"),
        (None, "*hi*", "<em>hi</em>"),
        ("text/plain", "<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
    ],
)
def test_descriptions_render_by_content_type(
    content_type: str | None, text: str, expected: str
) -> None:
    html = view.description_html(text, content_type)
    assert html is not None
    assert expected in html


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/markdown", f"{SCRIPT}\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"),
        ("text/x-rst", f"`x <javascript:alert(1)>`_\n\n.. raw:: html\n\n   {SCRIPT}\n"),
        ("text/plain", SCRIPT),
    ],
)
def test_descriptions_are_sanitised_or_not_rendered(content_type: str, text: str) -> None:
    html = view.description_html(text, content_type)
    if html is not None:
        assert "<script" not in html
        assert "javascript:" not in html
        assert "onerror" not in html


def test_a_failed_render_is_none_and_the_page_shows_escaped_text() -> None:
    # readme_renderer refuses rst it cannot render (here: the raw directive): no HTML.
    text = f"Title\n=====\n\n.. raw:: html\n\n   {SCRIPT}\n"
    assert view.description_html(text, "text/x-rst") is None
    assert view.description_html("x" * (view.MAX_RENDERED + 1), "text/plain") is None


def _file(name: str, version: str, path: str) -> FileView:
    return FileView(name, path, version, "bdist_wheel", "py3", None, 1234, "ab" * 32, None,
                    None, None, NOW, False, None)  # fmt: skip


def test_files_show_uploader_bin_role_and_snapshot() -> None:
    files = [_file("a.whl", "1.0", "p/a"), _file("b.whl", "1.0", "p/b"), _file("c", "1", "p/c")]
    signing = {"p/a": Signing("alice", 10, 7), "p/b": Signing(None, 255, None)}
    rows = view.file_rows(files, signing, 256)
    assert [(r.uploader, r.role, r.published) for r in rows] == [
        ("alice", "bin-0a", 7),
        (None, "bin-ff", None),
        (None, None, None),
    ]


def test_pick_finds_a_release_by_its_identity_or_the_latest() -> None:
    releases = [
        ReleaseView("1.0", False, None, None, {}, None),
        ReleaseView("2.0", True, "bad", None, {}, None),
        ReleaseView("3.0rc1", False, None, None, {}, None),
    ]
    assert view.pick(releases, None) == releases[0]
    assert view.pick(releases, "1.0.0") == releases[0]
    assert view.pick(releases, "2") == releases[1]
    assert view.pick(releases, "4.0") is None
    assert view.pick(releases, "not a version") is None


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 bytes"), (999, "999 bytes"), (1234, "1.2 kB"), (5_600_000, "5.6 MB")]
)
def test_sizes(size: int, text: str) -> None:
    assert view.size_text(size) == text


def test_the_not_found_page_escapes_what_was_asked() -> None:
    page = render("not_found.html", message=f"No project {SCRIPT}", query=SCRIPT)
    assert "<script" not in page
    assert "%3Cscript%3E" in page
