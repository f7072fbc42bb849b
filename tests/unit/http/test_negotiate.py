"""PEP 691 content negotiation (tufpi.http.negotiate)."""

from __future__ import annotations

import pytest

from tufpi.http.negotiate import HTML_V1, JSON_V1, TEXT_HTML, choose

# The Accept headers real installers send.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
# pip before PEP 691 support, and a browser.
OLD_PIP_ACCEPT = "text/html"
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, JSON_V1),
        (UV_ACCEPT, JSON_V1),
        (OLD_PIP_ACCEPT, TEXT_HTML),
        (BROWSER_ACCEPT, TEXT_HTML),
        (None, TEXT_HTML),
        ("", TEXT_HTML),
        ("   ", TEXT_HTML),
    ],
    ids=["pip", "uv", "old-pip", "browser", "absent", "empty", "blank"],
)
def test_clients(accept: str | None, expected: str) -> None:
    assert choose(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        ("application/vnd.pypi.simple.latest+html", HTML_V1),
        ("application/vnd.pypi.simple.latest+html, text/html;q=0.5", HTML_V1),
        ("application/vnd.pypi.simple.latest+json;q=0.2, text/html;q=0.5", TEXT_HTML),
    ],
)
def test_latest_aliases(accept: str, expected: str) -> None:
    assert choose(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{JSON_V1};q=0.5, {HTML_V1};q=0.9", HTML_V1),
        (f"{JSON_V1};q=0.5, text/html;q=0.9", TEXT_HTML),
        (f"{HTML_V1}, {JSON_V1}", JSON_V1),  # equal q: the server's preference
        (f"text/html, {HTML_V1}", HTML_V1),
        (f"{JSON_V1}; q=1.5, text/html", JSON_V1),  # q above 1 counts as 1
        (f"{JSON_V1};Q=0.3, text/html;q=0.2", JSON_V1),
        ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", JSON_V1),
        (f"{JSON_V1}; charset=utf-8", JSON_V1),
        ("text/html; charset=utf-8; q=0.4", TEXT_HTML),
        (f" {JSON_V1} ;  q = 0.7 , text/html ; q=0.6", JSON_V1),
    ],
)
def test_quality_values(accept: str, expected: str) -> None:
    assert choose(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{JSON_V1};q=0, {HTML_V1}", HTML_V1),
        (f"{JSON_V1};q=0, */*", TEXT_HTML),
        (f"{JSON_V1};q=0.0, text/html;q=0.001", TEXT_HTML),
        ("text/html;q=0, */*", HTML_V1),
        (f"*/*, {JSON_V1};q=0, {HTML_V1};q=0", TEXT_HTML),
    ],
)
def test_q_zero_refuses_a_type(accept: str, expected: str) -> None:
    assert choose(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("*/*", TEXT_HTML),
        ("text/*", TEXT_HTML),
        (f"*/*;q=0.1, {JSON_V1}", JSON_V1),
        ("*/*;q=0.9, text/html;q=0.1", HTML_V1),
    ],
)
def test_wildcards(accept: str, expected: str) -> None:
    assert choose(accept) == expected


def test_application_wildcard_gives_a_simple_api_type() -> None:
    assert choose("application/*") in (JSON_V1, HTML_V1)
    assert choose(f"application/*, {JSON_V1};q=0") == HTML_V1


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/vnd.pypi.simple.v2+json",
        "image/png, text/plain",
        "*/*;q=0",
        f"{JSON_V1};q=0, {HTML_V1};q=0, text/html;q=0",
        "text/html;q=oops",
        ",,,",
        "*",
    ],
)
def test_nothing_acceptable_gives_none(accept: str) -> None:
    assert choose(accept) is None


@pytest.mark.parametrize(
    ("format_param", "expected"),
    [
        (JSON_V1, JSON_V1),
        (HTML_V1, HTML_V1),
        (TEXT_HTML, TEXT_HTML),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        ("application/vnd.pypi.simple.latest+html", HTML_V1),
        ("Application/Vnd.Pypi.Simple.V1+Json", JSON_V1),
        ("application/json", None),
        ("json", None),
    ],
)
def test_format_parameter_overrides_the_header(format_param: str, expected: str | None) -> None:
    assert choose("text/html", format_param) == expected
    assert choose("image/png", format_param) == expected


def test_empty_format_parameter_falls_back_to_the_header() -> None:
    assert choose(PIP_ACCEPT, "") == JSON_V1
    assert choose("application/json", None) is None
