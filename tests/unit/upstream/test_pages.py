"""Reading simple API pages: PEP 503 HTML anchors and PEP 691 JSON, with PEP 700 times."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tufpi.upstream import pages as links

HTML = """<!DOCTYPE html><html><body>
<a href="../../packages/ab/cd/ef/demo-1.0.tar.gz#sha256=AABB">demo-1.0.tar.gz</a><br/>
<a href="https://files.example/demo-1.0-py3-none-any.whl#md5=00ff"
   data-requires-python="&gt;=3.8">demo-1.0-py3-none-any.whl</a>
<a href="/p/demo%2B1-2.0.zip">ignored text</a>
<a>no href</a>
</body></html>"""


def test_html_links_take_the_name_from_the_url_and_the_hash_from_the_fragment() -> None:
    found = links.html_links(HTML)
    assert [(x.filename, x.href, x.hashes) for x in found] == [
        ("demo-1.0.tar.gz", "../../packages/ab/cd/ef/demo-1.0.tar.gz", {"sha256": "aabb"}),
        (
            "demo-1.0-py3-none-any.whl",
            "https://files.example/demo-1.0-py3-none-any.whl",
            {"md5": "00ff"},
        ),
        ("demo+1-2.0.zip", "/p/demo%2B1-2.0.zip", {}),
    ]


def test_html_projects_are_the_anchor_texts() -> None:
    page = '<a href="/simple/a/">Alpha</a><a href="b/">beta</a><a href="">x</a>'
    assert links.html_projects(page) == ["Alpha", "beta"]


def test_json_links_keep_upload_time_and_every_hash() -> None:
    page = {
        "meta": {"api-version": "1.1"},
        "files": [
            {
                "filename": "demo-1.0.tar.gz",
                "url": "../../packages/demo-1.0.tar.gz#ignored",
                "hashes": {"SHA256": "AB", "blake2b": "cd"},
                "upload-time": "2024-05-01T10:20:30.123456Z",
            },
            {"filename": "no-url.tar.gz"},
            {
                "url": "https://x/demo-2.0.tar.gz",
                "hashes": {},
                "upload-time": "2024-05-01T12:00:00+02:00",
            },
        ],
    }
    found = links.json_links(json.dumps(page))
    assert found[0] == links.Link(
        "demo-1.0.tar.gz",
        "../../packages/demo-1.0.tar.gz",
        {"sha256": "ab", "blake2b": "cd"},
        dt.datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=dt.UTC),
    )
    two = found[1]
    assert (two.filename, two.href, two.hashes) == (
        "demo-2.0.tar.gz",
        "https://x/demo-2.0.tar.gz",
        {},
    )
    assert two.upload_time is not None
    assert two.upload_time.utcoffset() == dt.timedelta(0)
    assert two.upload_time.hour == 10
    assert len(found) == 2


def test_json_projects_and_bad_json() -> None:
    page = {"meta": {}, "projects": [{"name": "A"}, {"nom": "b"}, "c"]}
    assert links.json_projects(json.dumps(page)) == ["A"]
    with pytest.raises(links.PageError):
        links.json_projects("<html>")
    with pytest.raises(links.PageError):
        links.json_links("[1, 2]")


def test_preferred_hash_is_sha256_when_listed() -> None:
    assert links.preferred_hash({"md5": "1", "sha256": "2"}) == ("sha256", "2")
    assert links.preferred_hash({"md5": "1"}) == ("md5", "1")
    assert links.preferred_hash({}) is None


def test_a_page_of_another_major_api_version_is_refused() -> None:
    with pytest.raises(links.PageError, match=r"is not 1\.x"):
        links.read_json(json.dumps({"meta": {"api-version": "2.0"}, "files": []}))
    html = '<meta name="pypi:repository-version" content="2.0"><a href="x">x</a>'
    with pytest.raises(links.PageError, match=r"is not 1\.x"):
        links.read_html(html)
    assert links.read_json(json.dumps({"meta": {"api-version": "1.4"}, "files": []})).links == []


def test_too_many_links_are_refused_while_parsing() -> None:
    html = '<a href="f">f</a>' * 11
    assert len(links.read_html(html, max_links=11).links) == 11
    with pytest.raises(links.PageError, match="more than 10 links"):
        links.read_html(html, max_links=10)
    files = [{"url": "f", "hashes": {"sha256": "0"}}] * 11
    assert len(links.read_json(json.dumps({"files": files}), max_links=11).links) == 11
    with pytest.raises(links.PageError, match="more than 10"):
        links.read_json(json.dumps({"files": files}), max_links=10)
    # Objects that are no files still count: a page of a million {} is refused early.
    many = json.dumps({"files": [], "junk": [{}] * 100})
    with pytest.raises(links.PageError, match="more than 46 JSON objects"):
        links.read_json(many, max_links=10)


def test_json_that_nests_without_end_is_refused() -> None:
    with pytest.raises(links.PageError, match="nested too deep"):
        links.read_json('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/html; charset=ISO-8859-1", "café".encode("latin-1"), "café"),
        ('text/html; charset="windows-1252"', "café€".encode("cp1252"), "café€"),
        ("text/html; Charset=UTF-16", "café".encode("utf-16"), "café"),
        ("text/html", "café".encode(), "café"),  # none declared: UTF-8
        ("text/html", b"caf\xe9", "caf\ufffd"),  # not UTF-8: replaced, the anchors still parse
        (f"{links.JSON_TYPE}; charset=latin-1", '{"a": "é"}'.encode(), '{"a": "é"}'),
    ],
)
def test_page_text_honours_the_declared_charset(content_type: str, body: bytes, text: str) -> None:
    """Before, every page was read as UTF-8: an index serving Latin-1 had its names mangled.
    JSON is UTF-8 whatever a header says (RFC 8259)."""
    assert links.page_text(body, content_type) == text


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "text/html; charset=klingon",
            b"<a>",
            "it declares the charset 'klingon', which is not a known text encoding",
        ),
        (
            "text/html; charset=base64",
            b"<a>",
            "it declares the charset 'base64', which is not a known text encoding",
        ),
        (links.JSON_TYPE, "é".encode("latin-1"), "its JSON is not UTF-8"),
    ],
)
def test_page_text_refuses_what_it_cannot_decode(
    content_type: str, body: bytes, message: str
) -> None:
    with pytest.raises(links.PageError) as caught:
        links.page_text(body, content_type)
    assert str(caught.value) == message
