"""Which links of an upstream page tufpi takes: everything a PyPI-shaped PEP 691 page says of
a file carried over, every hostile or unusable link skipped with its reason."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.upstream_pages import FILES, SHA_META, SHA_SDIST, SHA_WHL, pypi_json
from tufpi.upstream import UpstreamError, UpstreamProject, pages
from tufpi.upstream.listing import conflicting, project_of, shown

PAGE_URL = "https://pypi.example/simple/demo-project/"
UPSTREAM = "https://pypi.example/simple/"


def _project(text: str, url: str = PAGE_URL, name: str = "demo-project") -> UpstreamProject:
    return project_of(pages.read_json(text), name, url, UPSTREAM)


def test_a_pypi_shaped_page_keeps_every_field() -> None:
    project = _project(pypi_json())
    assert project.name == "Demo.Project"
    assert project.versions == ("1.0", "2.0")
    assert project.skipped == ()
    wheel, sdist = project.files
    assert wheel.filename == "demo_project-1.0-py3-none-any.whl"
    assert wheel.url == f"{FILES}/demo_project-1.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.size, wheel.requires_python) == (SHA_WHL, 1234, ">=3.8")
    assert wheel.yanked is False
    assert wheel.core_metadata_sha256 == SHA_META
    assert wheel.core_metadata_url == wheel.url + ".metadata"
    assert wheel.provenance == (
        "https://pypi.org/integrity/demo-project/1.0/demo_project-1.0-py3-none-any.whl/provenance"
    )
    assert wheel.upload_time == dt.datetime(2024, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
    assert (str(wheel.dist.version), wheel.dist.packagetype) == ("1.0", "bdist_wheel")
    # Relative URL resolved against the page, its fragment dropped; a yank reason kept.
    assert sdist.url == "https://pypi.example/packages/demo_project-2.0.tar.gz"
    assert (sdist.sha256, sdist.size, sdist.requires_python) == (SHA_SDIST, 99, None)
    assert sdist.yanked == "broken build"
    assert (sdist.core_metadata_sha256, sdist.provenance) == (None, None)


def test_an_html_page_keeps_its_data_attributes() -> None:
    html = f"""<!DOCTYPE html><html><head>
    <meta name="pypi:repository-version" content="1.1">
    <meta name="pypi:tracks" content="https://pypi.org/simple/demo-project/">
    </head><body>
    <a href="/f/demo_project-1.0-py3-none-any.whl#sha256={SHA_WHL}"
       data-requires-python="&gt;=3.9" data-core-metadata="sha256={SHA_META}"
       data-provenance="/prov/1">demo_project-1.0-py3-none-any.whl</a>
    <a href="/f/demo_project-1.1.tar.gz#sha256={SHA_SDIST}" data-yanked=""
       data-dist-info-metadata="true">demo_project-1.1.tar.gz</a>
    <a href="/f/demo_project-1.2.tar.gz#sha256={SHA_SDIST}" data-yanked="CVE-2024-1">x</a>
    </body></html>"""
    project = project_of(pages.read_html(html), "demo-project", PAGE_URL, UPSTREAM)
    assert project.name == "demo-project"
    assert project.tracks == ("https://pypi.org/simple/demo-project/",)
    one, two, three = project.files
    assert one.url == f"https://pypi.example/f/{one.filename}"
    assert (one.requires_python, one.core_metadata_sha256) == (">=3.9", SHA_META)
    assert one.provenance == "https://pypi.example/prov/1"
    assert (one.yanked, one.size, one.upload_time) == (False, None, None)
    assert (two.yanked, two.core_metadata_sha256) == (True, None)  # metadata with no hash
    assert three.yanked == "CVE-2024-1"


def _files(*entries: dict[str, object]) -> str:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "demo-project", "files": entries})


def _entry(filename: str, url: str | None = None, sha256: str = SHA_WHL) -> dict[str, object]:
    return {"filename": filename, "url": url or f"/f/{filename}", "hashes": {"sha256": sha256}}


HOSTILE = {
    "evil-1.0-py3-none-any.whl": "a file of project 'evil', not of 'demo-project'",
    "demo_project-1.0-py3-none-any.whl/../../x.whl": "its filename contains '..'",
    "..": "its filename contains '..'",
    "a/demo_project-1.0.tar.gz": "path separators are not allowed",
    "demo_project\\x-1.0.tar.gz": "path separators are not allowed",
    "demo_project-1.0\x00.tar.gz": "NUL byte",
    "demo_project-1.0\n.tar.gz": "characters not allowed",
    "demo_proj\u0435ct-1.0.tar.gz": "U+0435",  # Cyrillic e
    "demo_project-1.0\u2215x.tar.gz": "U+2215",  # division slash
    "demo_project-1.0.exe": "not a wheel (.whl) or sdist",
    "demo_project.whl": "Invalid distribution filename",
    ".demo_project-1.0.tar.gz": "may not start with '.'",
}


@pytest.mark.parametrize("filename", sorted(HOSTILE), ids=ascii)
def test_hostile_filenames_are_skipped_with_the_reason(filename: str) -> None:
    project = _project(_files(_entry(filename, url="/f/whatever.whl")))
    assert project.files == ()
    [(shown_name, why)] = project.skipped
    assert HOSTILE[filename] in why
    assert shown_name.isprintable()
    assert shown_name.isascii()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "not an http(s) URL"),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("ftp://host/demo_project-1.0.tar.gz", "not an http(s) URL"),
        ("http://[::1/x", "not an http(s) URL"),
    ],
)
def test_links_that_are_not_http_are_skipped(url: str, why: str) -> None:
    project = _project(_files(_entry("demo_project-1.0.tar.gz", url=url)))
    assert project.files == ()
    assert why in project.skipped[0][1]


def test_no_or_bad_sha256_and_bad_sizes_are_skipped() -> None:
    no_hash = {"filename": "demo_project-1.0.tar.gz", "url": "/a", "hashes": {"md5": "0" * 32}}
    bad = _entry("demo_project-1.1.tar.gz", sha256="zz" * 32)
    short = _entry("demo_project-1.2.tar.gz", sha256="ab")
    negative = {**_entry("demo_project-1.3.tar.gz"), "size": -5}
    good = _entry("demo_project-1.4.tar.gz")
    project = _project(_files(no_hash, bad, short, negative, good))
    assert [f.filename for f in project.files] == ["demo_project-1.4.tar.gz"]
    assert project.files[0].sha256 == SHA_WHL
    assert [why for _name, why in project.skipped] == [
        "upstream lists no sha256 for it",
        "its sha256 is not 64 hexadecimal digits",
        "its sha256 is not 64 hexadecimal digits",
        "its size -5 is negative",
    ]


def test_a_filename_listed_with_two_sha256_values_is_taken_from_neither() -> None:
    """Before, the first entry was taken: a page (or a cache, or a proxy in between) that
    lists a file twice decides which bytes are signed by the order of its entries. An
    ambiguous listing is no listing; the same entry twice is one."""
    first = _entry("demo_project-1.4.tar.gz", url="/a/demo_project-1.4.tar.gz")
    other = _entry("demo_project-1.4.tar.gz", url="/b/demo_project-1.4.tar.gz", sha256=SHA_SDIST)
    third = _entry("demo_project-1.4.tar.gz", url="/c/demo_project-1.4.tar.gz")
    same = _entry("demo_project-1.5.tar.gz")
    project = _project(_files(first, other, third, same, same))
    assert [f.filename for f in project.files] == ["demo_project-1.5.tar.gz"]
    assert project.conflicts == (("demo_project-1.4.tar.gz", (SHA_WHL, SHA_SDIST)),)
    assert project.skipped == (
        (
            "demo_project-1.4.tar.gz",
            f"listed more than once with different sha256 values ({SHA_WHL}, {SHA_SDIST}): "
            "which file is meant cannot be told, so none is taken",
        ),
    )


def test_conflicting_names_each_filename_with_distinct_hashes() -> None:
    listed = [("a", "1"), ("b", "2"), ("a", "1"), ("c", "3"), ("a", "4"), ("c", "3"), ("a", "1")]
    assert conflicting(listed) == {"a": ("1", "4")}
    assert conflicting([]) == {}


def test_a_page_of_another_project_is_refused() -> None:
    with pytest.raises(UpstreamError) as caught:
        _project(pypi_json(name="evil"))
    assert str(caught.value) == (
        "upstream https://pypi.example/simple/ sent the page of project evil when asked for "
        "'demo-project'"
    )


def test_shown_escapes_what_could_forge_a_log_line() -> None:
    assert shown("plain-1.0.tar.gz") == "plain-1.0.tar.gz"
    assert shown("a\nFAKE LOG LINE") == "'a\\nFAKE LOG LINE'"
    assert shown("x" * 500).endswith("...")
