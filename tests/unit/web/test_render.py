"""Rendering the project list (PEP 503 / 691) and the JSON API (tufpi.web.render)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tests.support.views import file_view, page, parse_html
from tufpi.index.views import ProjectDetail, ReleaseView
from tufpi.web import render


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


def test_index_json_shape() -> None:
    body = json.loads(render.index_json([("Demo.Pkg", "demo-pkg"), ("other", "other")]))
    assert body == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "Demo.Pkg"}, {"name": "other"}],
    }


def test_empty_index() -> None:
    assert json.loads(render.index_json([]))["projects"] == []
    assert parse_html(render.index_html([])).anchors == []


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
    assert body["urls"][0]["upload_time_iso_8601"] == "2024-05-06T07:08:09.123456Z"


def test_json_api_one_version_and_unknown_version() -> None:
    d = detail(release("1.0"), release("2.0"))
    body = json.loads(render.project_api(d, "http://h/", "1.0.0") or b"")
    assert body["info"]["version"] == "1.0"
    assert "releases" not in body
    assert render.project_api(d, "http://h/", "3.0") is None
