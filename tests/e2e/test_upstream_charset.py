"""An upstream HTML page is decoded in the charset its Content-Type declares (before, always
as UTF-8: a Latin-1 yank reason came out mangled, a UTF-16 page had no links at all), and a
charset Python does not know is a refused page, in words, not a crash. Read from a real
server on 127.0.0.1 with the upstream reader ``tufpi import`` and the mirror share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from tests.support import hostile_http
from tests.support.hostile_http import HostileServer
from tufpi.upstream import Upstream, UpstreamError, pages

SHA = hashlib.sha256(b"demo").hexdigest()


def _page(name: str) -> str:
    """A PEP 503 page of project ``name``: one file, yanked for a reason with an accent."""
    filename = f"{name}-1.0.tar.gz"
    return (
        f'<!DOCTYPE html><html><body><a href="/f/{filename}#sha256={SHA}" '
        f'data-yanked="défectueux">{filename}</a></body></html>'
    )


@pytest.fixture
def upstream() -> Iterator[HostileServer]:
    with hostile_http.running() as server:
        for name, charset, codec in (
            ("latin", "ISO-8859-1", "latin-1"),
            ("wide", "utf-16", "utf-16"),
            ("unknown", "klingon", "utf-8"),
        ):
            headers = {"content-type": f"text/html; charset={charset}"}
            server.serve(f"/simple/{name}/", _page(name).encode(codec), headers)
        yield server


def _as_before(server: HostileServer, name: str) -> pages.Page:
    """The page read as tufpi read it before: its bytes decoded as UTF-8, whatever declared."""
    body = httpx.get(f"{server.url}simple/{name}/").content
    return pages.read_html(body.decode("utf-8", errors="replace"))


def test_a_declared_charset_is_honoured(upstream: HostileServer) -> None:
    assert _as_before(upstream, "latin").links[0].yanked == "d\ufffdfectueux"
    assert _as_before(upstream, "wide").links == []
    with Upstream(upstream.url + "simple/") as reader:
        for name in ("latin", "wide"):
            project = reader.project(name)
            assert project is not None
            assert [(f.filename, f.yanked) for f in project.files] == [
                (f"{name}-1.0.tar.gz", "défectueux")
            ]


def test_an_unknown_charset_is_a_refused_page(upstream: HostileServer) -> None:
    with Upstream(upstream.url + "simple/") as reader, pytest.raises(UpstreamError) as caught:
        reader.project("unknown")
    assert str(caught.value) == (
        f"upstream {upstream.url}simple/ sent a page that is not a simple API page: it "
        "declares the charset 'klingon', which is not a known text encoding (the page of "
        "'unknown')"
    )
