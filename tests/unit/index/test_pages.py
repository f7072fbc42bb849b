"""Rendering project pages: PEP 503 HTML and PEP 691/700 JSON (tufpi.index.pages)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from tests.support.views import (
    META_SHA,
    SHA,
    check_pep691_project,
    file_view,
    page,
    parse_html,
)
from tufpi.index import pages

# -- HTML -----------------------------------------------------------------------------------------


def test_file_anchor_uses_a_relative_url_with_the_hash() -> None:
    f = file_view()
    parsed = parse_html(pages.project_html(page(f)))
    [(attrs, text)] = parsed.anchors
    assert attrs == {"href": f"../../{f.path}#sha256={SHA}"}
    assert text == f.filename
    assert {"name": "pypi:repository-version", "content": "1.1"} in parsed.metas


def test_requires_python_is_escaped() -> None:
    body = pages.project_html(page(file_view(requires_python=">=3.8")))
    assert b'data-requires-python="&gt;=3.8"' in body
    assert b">=3.8" not in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-requires-python"] == ">=3.8"


def test_quotes_in_requires_python_cannot_add_attributes() -> None:
    body = pages.project_html(page(file_view(requires_python='>=3.8"onclick="x')))
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-requires-python"] == '>=3.8"onclick="x'
    assert "onclick" not in attrs


def test_core_metadata_attributes() -> None:
    body = pages.project_html(page(file_view(metadata_sha256=META_SHA)))
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-core-metadata"] == f"sha256={META_SHA}"
    assert attrs["data-dist-info-metadata"] == f"sha256={META_SHA}"


def test_plain_file_has_no_optional_attributes() -> None:
    [(attrs, _)] = parse_html(pages.project_html(page(file_view()))).anchors
    assert set(attrs) == {"href"}


def test_yanked_with_an_escaped_reason() -> None:
    reason = 'broken <"build"> & co'
    body = pages.project_html(page(file_view(yanked=True, yanked_reason=reason)))
    assert b'<"build">' not in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-yanked"] == reason


def test_yanked_without_a_reason_has_an_empty_attribute() -> None:
    body = pages.project_html(page(file_view(yanked=True)))
    assert b'data-yanked=""' in body
    [(attrs, _)] = parse_html(body).anchors
    assert attrs["data-yanked"] == ""


def test_project_name_and_filename_are_escaped() -> None:
    hostile = dataclasses.replace(page(file_view(filename="<i>x</i>.whl")), name="<script>")
    body = pages.project_html(hostile)
    assert b"<script>" not in body
    assert b"<i>" not in body
    assert b"Links for &lt;script&gt;" in body
    assert parse_html(body).anchors[0][1] == "<i>x</i>.whl"


def test_every_file_is_listed_in_order() -> None:
    files = [file_view(filename=f"demo_pkg-{v}.tar.gz", version=v) for v in ("1.0", "2.0")]
    parsed = parse_html(pages.project_html(page(*files, versions=("1.0", "2.0"))))
    assert [text for _, text in parsed.anchors] == ["demo_pkg-1.0.tar.gz", "demo_pkg-2.0.tar.gz"]


# -- JSON (PEP 691, API version 1.1 with PEP 700) --------------------------------------------------


def test_json_plain_file() -> None:
    f = file_view()
    body = json.loads(pages.project_json(page(f)))
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


def test_json_file_with_everything() -> None:
    f = file_view(requires_python=">=3.8", metadata_sha256=META_SHA, yanked=True)
    body = json.loads(pages.project_json(page(f)))
    check_pep691_project(body)
    [entry] = body["files"]
    assert entry["requires-python"] == ">=3.8"
    assert entry["core-metadata"] == {"sha256": META_SHA}
    assert entry["dist-info-metadata"] == {"sha256": META_SHA}
    assert entry["yanked"] is True


def test_json_yanked_reason() -> None:
    f = file_view(yanked=True, yanked_reason='broken "build" </script>')
    body = json.loads(pages.project_json(page(f)))
    check_pep691_project(body)
    assert body["files"][0]["yanked"] == 'broken "build" </script>'


def test_json_versions_include_releases_without_files() -> None:
    body = json.loads(pages.project_json(page(versions=("0.9", "1.0"))))
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
    [entry] = json.loads(pages.project_json(page(file_view(upload_time=moment))))["files"]
    assert entry["upload-time"] == expected


def test_render_gives_both_representations_and_is_deterministic() -> None:
    p = page(file_view(metadata_sha256=META_SHA))
    rendered = pages.render(p)
    assert rendered == {pages.HTML: pages.project_html(p), pages.JSON: pages.project_json(p)}
    assert pages.render(p) == rendered
