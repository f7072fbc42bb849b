"""Script in uploaded metadata never runs in a visitor's browser (issue 16), in Chromium.

Six projects are uploaded with twine whose every free-text core metadata field carries a
payload (tests/support/payloads.py), their long descriptions in each markup tufpi renders;
a release is yanked with a payload for its reason, and the uploader's account name is one
(renamed in the database: tufpi refuses such a name for a new account, an older index may
hold one).
First the attack is shown working: the same values put into a page as a naive template
would (``| safe``, no sanitiser, no CSP) fire in Chromium. Then every tufpi page that shows
them is opened: no dialog, no ``window.__pwned``, no script error, no handler, frame,
style or ``javascript:`` URL from the data, and the Content-Security-Policy that forbids
script on every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comrak
import jinja2
import pytest
from sqlalchemy import create_engine, text

from tests.support import browser as web
from tests.support import demo, payloads
from tests.support import server as server_support
from tests.support.clients import twine_upload
from tests.support.payload_host import serving
from tests.support.waiting import wait_until

NAMES = [h.name for h in payloads.HOSTILE]
YANKED = "xss-markdown"


@pytest.fixture(scope="module")
def index(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An index holding the hostile projects, one of them yanked with a hostile reason."""
    work = tmp_path_factory.mktemp("hostile")
    srv = server_support.start(work / "index")
    try:
        token = srv.new_user("xss-uploader")
        # tufpi refuses such a name for a new account; an index older than that rule may
        # hold one, and its pages must still show it inert.
        refused = srv.cli("user", "add", payloads.USER_NAME, "--no-password", check=False)
        assert refused.returncode != 0
        assert "Invalid account name" in refused.stdout + refused.stderr
        engine = create_engine(srv.database_url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE users SET name = :hostile WHERE name = 'xss-uploader'"),
                {"hostile": payloads.USER_NAME},
            )
        engine.dispose()
        wheels = []
        for hostile in payloads.HOSTILE:
            filename, data = payloads.wheel(hostile)
            (work / filename).write_bytes(data)
            wheels.append(work / filename)
        upload = twine_upload(srv.url, token, wheels)
        assert upload.returncode == 0, upload.stdout + upload.stderr
        demo.yank(srv, token, YANKED, "1.0", payloads.YANK_REASON)
        yield srv
    finally:
        srv.stop()


_NAIVE = jinja2.Environment(autoescape=True).from_string(
    """<!DOCTYPE html><html><head><title>{{ name }}</title></head><body><main>
<h1>{{ name }}</h1><p>{{ fields.Summary | safe }}</p>
<p>By {{ fields.Author | safe }} &lt;{{ fields["Author-email"] | safe }}&gt;</p>
<p><a href="{{ fields["Home-page"] }}">Homepage</a></p>
<p>Yanked: {{ reason | safe }}</p>
{{ description | safe }}
</main></body></html>"""
)


def naive_page(directory: Path) -> Path:
    """The markdown project as a template that trusts it would show it: the description
    rendered by comrak as readme_renderer does (raw HTML let through) but not sanitised
    after, the fields marked safe, no CSP."""
    hostile = payloads.HOSTILE[0]
    options = comrak.RenderOptions()
    options.unsafe_ = True
    html = comrak.render_markdown(hostile.description, render_options=options)
    page = directory / "naive.html"
    page.write_text(
        _NAIVE.render(
            name=hostile.name,
            fields=payloads.TEXT_FIELDS,
            reason=payloads.YANK_REASON,
            description=html,
        )
    )
    return page


def test_the_payloads_fire_on_a_naive_page(browser: Any, tmp_path: Path, shots: Path) -> None:
    """Without escaping, sanitising and CSP, the payloads run in Chromium with no click."""
    naive_page(tmp_path)
    with serving(tmp_path) as host, web.open_page(browser) as (page, watch):
        page.goto(host.url + "naive.html")
        # The payloads' overlay covers the page: a click lands on it, so dispatch one.
        page.locator("#js-link").dispatch_event("click")
        # Script elements, onerror, ontoggle, an iframe's srcdoc and the javascript: link
        # (each evaluate lets Playwright take the dialogs that came meanwhile).
        expected = {1, 4, 5, 6, 20, 50, 51, 53, 80, 81}
        wait_until(
            lambda: page.evaluate("0") == 0 and expected <= {int(m) for m in watch.dialogs},
            lambda: f"payloads fired: {watch.dialogs}",
            timeout=10,
        )
        web.shoot(page, shots, "naive")
        assert web.pwned(page) is not None
        assert len(web.hostile_markup(page)) > 10
        assert not page.locator("main").is_visible()  # the <style> payload hid it


def check_safe(page: Any, watch: web.Watch, response: Any, csp: bool = True) -> None:
    """``page`` ran no payload and holds no hostile markup; with ``csp``, its answer forbids
    script and its main part is shown."""
    assert response is not None
    assert response.status == 200
    assert watch.dialogs == [], f"dialogs opened: {watch.dialogs}"
    assert web.pwned(page) is None
    assert watch.errors == [], f"script errors: {watch.errors}"
    assert watch.script_ran() == [], f"console errors: {watch.script_ran()}"
    assert web.hostile_markup(page) == []
    if csp:  # one of the pages for people (the simple page has neither)
        assert web.forbids_script(response) is None
        assert page.locator("main").is_visible()


def click_every_link(page: Any, watch: web.Watch) -> None:
    """Click each link of the page's main part that stays on the page (a fragment, or
    one whose scheme is not http(s)): none may run script."""
    for link in page.locator("main a[href]").all():
        href = link.get_attribute("href") or ""
        if not href.startswith(("http:", "https:", "/", "..", "mailto:")) and link.is_visible():
            link.dispatch_event("click")
    assert watch.dialogs == []
    assert web.pwned(page) is None


@pytest.mark.parametrize("name", NAMES)
def test_project_page_runs_no_payload(browser: Any, index: Any, shots: Path, name: str) -> None:
    with web.open_page(browser) as (page, watch):
        response = page.goto(f"{index.url}project/{name}/")
        check_safe(page, watch, response)
        text = page.inner_text("main")
        # The values are shown, as text: escaped, not dropped.
        assert "top.__pwned=52" in text, text[:2000]
        assert payloads.USER_NAME in text  # the uploader, beside the file
        for link in page.locator("a[href^='http']").all():
            href = link.get_attribute("href") or ""
            if not href.startswith(index.url):
                assert "nofollow" in (link.get_attribute("rel") or ""), link.evaluate(
                    "e => e.outerHTML"
                )
        click_every_link(page, watch)
        web.shoot(page, shots, f"project-{name}")


@pytest.mark.parametrize(
    "path",
    [
        f"project/{YANKED}/1.0/",
        f"project/{YANKED}/history/",
        "search/?q=xss",
        "search/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ],
)
def test_other_pages_run_no_payload(browser: Any, index: Any, shots: Path, path: str) -> None:
    with web.open_page(browser) as (page, watch):
        response = page.goto(index.url + path)
        check_safe(page, watch, response)
        click_every_link(page, watch)
        web.shoot(page, shots, path.strip("/").replace("/", "-").replace("?", "-")[:60])


def test_yank_reason_on_the_release_page_is_text(browser: Any, index: Any) -> None:
    with web.open_page(browser) as (page, watch):
        check_safe(page, watch, page.goto(f"{index.url}project/{YANKED}/1.0/"))
        assert "top.__pwned=81" in page.inner_text("main")


def test_simple_page_runs_no_payload(browser: Any, index: Any) -> None:
    """The simple page (PEP 503 HTML, no CSP: escaping is its only defence) carries the
    hostile yank reason in an attribute, escaped."""
    with web.open_page(browser) as (page, watch):
        response = page.goto(f"{index.url}simple/{YANKED}/")
        check_safe(page, watch, response, csp=False)
        reasons = page.locator("a[data-yanked]").evaluate_all(
            "links => links.map(a => a.dataset.yanked)"
        )
        assert reasons == [payloads.YANK_REASON]
