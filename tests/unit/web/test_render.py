"""Rendering the simple API (PEP 503 HTML, PEP 691/700 JSON) and the JSON API (tufpi.web.render)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tufpi.index.views import FileView, ProjectDetail, ProjectPage, ReleaseView
from tufpi.web import render

SHA = "ab" * 32
META_SHA = "cd" * 32
UPLOADED = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def file_view(**changes: Any) -> FileView:
    base = FileView(
        filename="demo_pkg-1.0-py3-none-any.whl",
        path=f"packages/ab/ab/{SHA[4:]}/demo_pkg-1.0-py3-none-any.whl",
        version="1.0",
        packagetype="bdist_wheel",
        python_version="py3",
        requires_python=None,
        size=1234,
        sha256=SHA,
        blake2_256="ef" * 32,
        md5="01" * 16,
        metadata_sha256=None,
        upload_time=UPLOADED,
        yanked=False,
        yanked_reason=None,
    )
    return dataclasses.replace(base, **changes)


def page(*files: FileView, versions: tuple[str, ...] = ("1.0",)) -> ProjectPage:
    return ProjectPage(
        name="Demo.Pkg", normalized_name="demo-pkg", serial=3, versions=versions, files=files
    )


class Anchors(HTMLParser):
    """The <a> elements of a page: (attributes, text), attributes unescaped by the parser."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.metas: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), ""
        elif tag == "meta":
            self.metas.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, self._text))
            self._open = None


def parse_html(body: bytes) -> Anchors:
    parser = Anchors()
    parser.feed(body.decode())
    parser.close()
    return parser


# -- HTML -----------------------------------------------------------------------------------------


def test_index_html_links_each_project_by_normalized_name() -> None:
    body = render.index_html([("Demo.Pkg", "demo-pkg"), ("other", "other")])
    parsed = parse_html(body)
    assert parsed.anchors == [({"href": "demo-pkg/"}, "Demo.Pkg"), ({"href": "other/"}, "other")]
    assert {"name": "pypi:repository-version", "content": "1.1"} in parsed.metas
    assert body.startswith(b"<!DOCTYPE html>")


def test_index_html_escapes_names() -> None:
    body = render.index_html([('<b>"x"&', '"><script>')])
    assert b"<script>" not in body
    assert b"<b>" not in body
    assert parse_html(body).anchors == [({"href": '"><script>/'}, '<b>"x"&')]


def test_project_html_file_anchor_uses_a_relative_url_with_the_hash() -> None:
    f = file_view()
    parsed = parse_html(render.project_html(page(f)))
    [(attrs, text)] = parsed.anchors
    assert attrs == {"href": f"../../{f.path}#sha256={SHA}"}
    assert text == f.filename
    assert {"name": "pypi:repository-version", "content": "1.1"} in parsed.metas


def test_project_html_escapes_requires_python() -> None:
    body = render.project_html(page(file_view(requires_python=">=3.8")))
    assert b'data-requires-python="&gt;=3.8"' in body
    assert b">=3.8" not in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-requires-python"] == ">=3.8"


def test_project_html_escapes_quotes_in_requires_python() -> None:
    body = render.project_html(page(file_view(requires_python='>=3.8"onclick="x')))
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-requires-python"] == '>=3.8"onclick="x'
    assert "onclick" not in attrs


def test_project_html_core_metadata_attributes() -> None:
    body = render.project_html(page(file_view(metadata_sha256=META_SHA)))
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-core-metadata"] == f"sha256={META_SHA}"
    assert attrs["data-dist-info-metadata"] == f"sha256={META_SHA}"


def test_project_html_without_core_metadata_has_no_metadata_attributes() -> None:
    [(attrs, _)] = parse_html(render.project_html(page(file_view()))).anchors
    assert "data-core-metadata" not in attrs
    assert "data-dist-info-metadata" not in attrs
    assert "data-yanked" not in attrs
    assert "data-requires-python" not in attrs


def test_project_html_yanked_with_escaped_reason() -> None:
    body = render.project_html(page(file_view(yanked=True, yanked_reason='broken <"build"> & co')))
    assert b'<"build">' not in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-yanked"] == 'broken <"build"> & co'


def test_project_html_yanked_without_reason_has_an_empty_attribute() -> None:
    body = render.project_html(page(file_view(yanked=True)))
    assert b'data-yanked=""' in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-yanked"] == ""


def test_project_html_escapes_project_name_and_filename() -> None:
    hostile = dataclasses.replace(page(file_view(filename="<i>x</i>.whl")), name="<script>")
    body = render.project_html(hostile)
    assert b"<script>" not in body
    assert b"<i>" not in body
    assert b"Links for &lt;script&gt;" in body
    assert parse_html(body).anchors[0][1] == "<i>x</i>.whl"


def test_project_html_lists_every_file_in_order() -> None:
    files = [file_view(filename=f"demo_pkg-{v}.tar.gz", version=v) for v in ("1.0", "2.0")]
    parsed = parse_html(render.project_html(page(*files, versions=("1.0", "2.0"))))
    assert [text for _, text in parsed.anchors] == ["demo_pkg-1.0.tar.gz", "demo_pkg-2.0.tar.gz"]


# -- JSON (PEP 691, API version 1.1 with PEP 700) --------------------------------------------------


def check_pep691_project(body: dict[str, Any]) -> None:
    """Assert the PEP 691 + PEP 700 shape of a project page."""
    assert set(body) == {"meta", "name", "versions", "files"}
    assert body["meta"] == {"api-version": "1.1"}
    assert isinstance(body["name"], str)
    assert isinstance(body["versions"], list)
    assert all(isinstance(v, str) for v in body["versions"])
    required = {"filename", "url", "hashes", "size", "upload-time"}
    optional = {"requires-python", "core-metadata", "dist-info-metadata", "yanked", "gpg-sig"}
    for entry in body["files"]:
        assert required <= set(entry) <= required | optional, entry
        assert isinstance(entry["filename"], str)
        assert isinstance(entry["url"], str)
        assert isinstance(entry["hashes"], dict)
        assert all(isinstance(v, str) for v in entry["hashes"].values())
        assert isinstance(entry["size"], int)
        assert not isinstance(entry["size"], bool)
        assert ISO_Z.match(entry["upload-time"]), entry["upload-time"]
        if "requires-python" in entry:
            assert isinstance(entry["requires-python"], str)
        for key in ("core-metadata", "dist-info-metadata"):
            value = entry.get(key, False)
            assert value is False or value is True or isinstance(value, dict)
        yanked = entry.get("yanked", False)
        assert isinstance(yanked, bool | str)


def test_index_json_shape() -> None:
    body = json.loads(render.index_json([("Demo.Pkg", "demo-pkg"), ("other", "other")]))
    assert body == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "Demo.Pkg"}, {"name": "other"}],
    }


def test_project_json_plain_file() -> None:
    f = file_view()
    body = json.loads(render.project_json(page(f)))
    check_pep691_project(body)
    assert body["name"] == "demo-pkg"
    assert body["versions"] == ["1.0"]
    assert body["files"] == [
        {
            "filename": f.filename,
            "url": "../../" + f.path,
            "hashes": {"sha256": SHA},
            "core-metadata": False,
            "dist-info-metadata": False,
            "yanked": False,
            "size": 1234,
            "upload-time": "2024-05-06T07:08:09.123456Z",
        }
    ]


def test_project_json_full_file() -> None:
    f = file_view(requires_python=">=3.8", metadata_sha256=META_SHA, yanked=True)
    [entry] = json.loads(render.project_json(page(f)))["files"]
    assert entry["requires-python"] == ">=3.8"
    assert entry["core-metadata"] == {"sha256": META_SHA}
    assert entry["dist-info-metadata"] == {"sha256": META_SHA}
    assert entry["yanked"] is True


def test_project_json_yanked_reason() -> None:
    f = file_view(yanked=True, yanked_reason='broken "build" </script>')
    body = json.loads(render.project_json(page(f)))
    check_pep691_project(body)
    assert body["files"][0]["yanked"] == 'broken "build" </script>'


def test_project_json_versions_include_releases_without_files() -> None:
    body = json.loads(render.project_json(page(versions=("0.9", "1.0"))))
    check_pep691_project(body)
    assert body["versions"] == ["0.9", "1.0"]
    assert body["files"] == []


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09.000000Z"),  # naive: UTC (SQLite)
        (
            dt.datetime(2024, 5, 6, 9, 8, 9, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-06T07:08:09.000005Z",
        ),
    ],
    ids=["naive", "offset"],
)
def test_upload_time_is_utc_iso_8601(moment: dt.datetime, expected: str) -> None:
    [entry] = json.loads(render.project_json(page(file_view(upload_time=moment))))["files"]
    assert entry["upload-time"] == expected


def test_pages_do_not_depend_on_anything_but_the_page() -> None:
    p = page(file_view(metadata_sha256=META_SHA))
    assert render.project_json(p) == render.project_json(p)
    assert render.project_html(p) == render.project_html(p)


# -- the JSON API ----------------------------------------------------------------------------------


def release(version: str, **changes: Any) -> ReleaseView:
    base = ReleaseView(
        version=version,
        yanked=False,
        yanked_reason=None,
        requires_python=None,
        core_metadata={"name": "Demo.Pkg", "summary": "s", "keywords": ["a", "b"]},
        description="long",
    )
    return dataclasses.replace(base, **changes)


def detail(*releases: ReleaseView) -> ProjectDetail:
    files = tuple(
        file_view(filename=f"demo_pkg-{r.version}.tar.gz", version=r.version) for r in releases
    )
    return ProjectDetail(page(*files, versions=tuple(r.version for r in releases)), releases)


def test_json_api_latest_skips_yanked_and_pre_releases() -> None:
    d = detail(release("1.0"), release("2.0b1"), release("1.5", yanked=True))
    body = json.loads(render.project_api(d, "http://h/") or b"")
    assert body["info"]["version"] == "1.0"
    assert body["info"]["keywords"] == "a,b"
    assert sorted(body["releases"]) == ["1.0", "1.5", "2.0b1"]
    assert body["urls"][0]["url"] == "http://h/" + d.page.files[0].path


def test_json_api_one_version_and_unknown_version() -> None:
    d = detail(release("1.0"), release("2.0"))
    body = json.loads(render.project_api(d, "http://h/", "1.0.0") or b"")
    assert body["info"]["version"] == "1.0"
    assert "releases" not in body
    assert render.project_api(d, "http://h/", "3.0") is None
