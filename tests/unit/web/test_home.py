"""The home page (tufpi.web.home): what the index is, how to use it, escaped."""

from __future__ import annotations

import html
import re

from starlette.requests import Request

from tufpi.config import Settings
from tufpi.web import home, usage

FINGERPRINT = "0123456789abcdef" * 4
HOSTILE = '"><script>alert(1)</script>'


def _pre_blocks(page: str) -> list[str]:
    return [html.unescape(b) for b in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)]


def test_page_shows_the_fingerprint_and_every_command() -> None:
    page = home.render("http://127.0.0.1:8080/", FINGERPRINT, private=False)
    blocks = _pre_blocks(page)
    assert FINGERPRINT in blocks
    assert (
        f"tufpi install --index http://127.0.0.1:8080/ --root-sha256 {FINGERPRINT} -- NAME"
        in blocks
    )
    assert f"tufpi proxy --index http://127.0.0.1:8080/ --root-sha256 {FINGERPRINT}" in blocks
    assert "pip install --index-url http://127.0.0.1:8080/simple/ NAME" in blocks
    assert "uv pip install --index-url http://127.0.0.1:8080/simple/ NAME" in blocks
    assert any(b.startswith("poetry source add") for b in blocks)
    assert 'href="simple/"' in page
    assert 'href="tuf/1.root.json"' in page
    assert "<script" not in page


def test_page_before_initialisation_says_so() -> None:
    page = home.render("http://127.0.0.1:8080/", None, private=False)
    assert "not initialised" in page
    assert "--root-sha256" not in page


def test_a_private_index_says_reads_need_a_token() -> None:
    assert "TUFPI_INDEX_TOKEN" in home.render("http://x/", FINGERPRINT, private=True)
    assert "TUFPI_INDEX_TOKEN" not in home.render("http://x/", FINGERPRINT, private=False)


def test_values_are_escaped_even_if_a_url_were_hostile() -> None:
    # request_url never lets such a URL through; render escapes it all the same.
    page = home.render(f"http://x/{HOSTILE}/", FINGERPRINT, private=False)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_without_the_check_the_host_header_reaches_the_url() -> None:
    """The attack the check stops: the Host header reaches the app as the client sent it,
    markup and all (a page printing it, as pypiserver's welcome page prints the request's
    URL, would carry it)."""
    scope = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", HOSTILE.encode())],
    }
    assert Request(scope).headers["host"] == HOSTILE
    assert "<script>" not in usage.request_url(Settings(), "http", HOSTILE)
