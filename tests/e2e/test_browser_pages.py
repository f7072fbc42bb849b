"""The public pages in Chromium (issue 16): accessible (axe-core finds nothing serious or
critical), usable on a phone (390 x 844: no sideways scroll, text of 12 px or more), script
forbidden by their Content-Security-Policy and needed by none; with screenshots of each,
whole page and phone (``TUFPI_SCREENSHOTS``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser as web
from tests.support import demo
from tests.support import server as server_support

PAGES = {
    "home": "",
    "project": "project/sampleproject/",
    "release": "project/sampleproject/4.1.0/",
    "history": "project/sampleproject/history/",
    "search": "search/?q=http",
    "trust": "trust/",
}


@pytest.fixture(scope="module")
def index(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("demo")
    srv = server_support.start(work / "index")
    try:
        demo.fill(srv, work)
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible(browser: Any, index: Any, name: str) -> None:
    violations = web.audit(browser, index.url + PAGES[name])
    print(f"axe-core on {name}:\n{web.described(violations) or 'no violation'}")
    assert web.failing(violations) == [], "axe-core:\n" + web.described(web.failing(violations))


@pytest.mark.parametrize("name", PAGES)
def test_page_without_script_and_on_a_phone(
    browser: Any, index: Any, shots: Path, name: str
) -> None:
    url = index.url + PAGES[name]
    with web.open_page(browser, java_script_enabled=False) as (page, watch):
        response = page.goto(url)
        assert response is not None
        assert response.status == 200
        assert web.forbids_script(response) is None
        assert page.locator("script").count() == 0
        assert watch.errors == []
        assert watch.script_ran() == []
        web.shoot(page, shots, name)
    with web.phone_page(browser) as (page, _):
        page.goto(url)
        web.shoot(page, shots, f"{name}-phone", full_page=False)
        assert web.phone_problems(page) == []


def test_search_form_works_without_script(browser: Any, index: Any) -> None:
    """The header's search box, with script off: typed, sent, answered by the search page
    with the project named in it first."""
    with web.open_page(browser, java_script_enabled=False) as (page, _):
        page.goto(index.url)
        header = page.locator("header.site")
        header.get_by_role("searchbox", name="Search projects").fill("tinyhttp")
        header.get_by_role("button", name="Search").click()
        page.wait_for_url("**/search/?q=tinyhttp")
        first = page.locator("main a[href*='/project/']").first
        assert "tinyhttp" in first.inner_text()
        first.click()
        page.wait_for_url("**/project/tinyhttp/")
        assert "A tiny HTTP client" in page.inner_text("main")
