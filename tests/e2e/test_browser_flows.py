"""A maintainer's day on the web pages, in Chromium with script off (issue 16): sign in
and out, create an API token and upload with it (twine), yank a release with a reason, add
a co-owner; a hostile token description and yank reason typed into the forms run nowhere;
a foreign page can neither post as the maintainer nor frame the pages; the signed-in pages
pass axe-core and fit a phone. Screenshots of each step go to ``TUFPI_SCREENSHOTS``.

The tests run in order and build on each other (one index for the module).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support import browser as web
from tests.support import demo, payloads
from tests.support import server as server_support
from tests.support.clients import twine_upload
from tests.support.payload_host import serving

PASSWORD = demo.PASSWORD


@pytest.fixture(scope="module")
def index(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demonstration index; ada (its projects' owner) signs in with ``PASSWORD``; bob
    has an account and no project."""
    work = tmp_path_factory.mktemp("flows")
    srv = server_support.start(work / "index")
    try:
        demo.fill(srv, work, password=PASSWORD, others=["bob"])
        yield srv
    finally:
        srv.stop()


def sign_in(page: Any, url: str, password: str = PASSWORD, then: str = "manage/") -> None:
    """Sign in as ada through the form, starting from ``then`` (which asks for it)."""
    page.goto(url + then)
    page.wait_for_url("**/account/login/**")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def session(browser: Any, index: Any) -> dict[str, Any]:
    """ada's browser state once signed in through the form: its session cookie."""
    with web.open_page(browser, java_script_enabled=False) as (page, _):
        sign_in(page, index.url)
        page.wait_for_url(index.url + "manage/")
        state: dict[str, Any] = page.context.storage_state()
        return state


@pytest.fixture
def signed_in(browser: Any, session: dict[str, Any]) -> Iterator[tuple[Any, web.Watch]]:
    """A page of a fresh context holding ada's session, script off."""
    with web.open_page(browser, java_script_enabled=False, storage_state=session) as pair:
        yield pair


def test_sign_in_and_out(browser: Any, index: Any, shots: Path) -> None:
    """A wrong password is refused in words; the right one leads to the page asked for,
    with a session cookie script cannot read; signing out ends it."""
    with web.open_page(browser, java_script_enabled=False) as (page, watch):
        sign_in(page, index.url, password="wrong password", then="manage/account/tokens/")
        expect(page.get_by_role("alert")).to_be_visible()
        assert "/account/login/" in page.url
        web.shoot(page, shots, "sign-in-refused")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("User name").fill("ada")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(index.url + "manage/account/tokens/")
        page.goto(index.url + "manage/")
        projects = page.locator("#projects").inner_text()
        assert all(name in projects for name, *_ in demo.PROJECTS), projects
        web.shoot(page, shots, "manage")
        cookie = next(c for c in page.context.cookies() if c["name"] == "tufpi_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"
        with page.expect_response(index.url + "account/logout/") as out:
            page.get_by_role("button", name="Sign out").click()
        assert out.value.status == 303
        page.goto(index.url + "manage/")
        page.wait_for_url("**/account/login/**")
        assert watch.errors == []


def test_create_a_token_and_upload_with_it(
    signed_in: tuple[Any, web.Watch], index: Any, shots: Path, tmp_path: Path
) -> None:
    page, _ = signed_in
    page.goto(index.url + "manage/account/tokens/")
    page.get_by_label("Description").fill("release job")
    page.get_by_label("Scope").select_option(label="Uploads to tinyhttp only")
    page.get_by_role("button", name="Create the token").click()
    secret = page.locator("#token-secret").inner_text().strip()
    assert secret.startswith("tufpi-"), secret
    web.shoot(page, shots, "token-created")
    assert "release job" in page.locator("#tokens").inner_text()
    page.goto(index.url + "manage/account/tokens/")
    assert page.locator("#token-secret").count() == 0  # shown once
    wheel = demo.wheels(tmp_path, [("tinyhttp", "A tiny HTTP client", ["1.1"], "http")])
    upload = twine_upload(index.url, secret, wheel)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    # Scoped to tinyhttp: it uploads nothing else.
    other = demo.wheels(tmp_path, [("colorful-logs", "Colour", ["2.4"], "logging")])
    refused = twine_upload(index.url, secret, other)
    assert refused.returncode != 0
    page.goto(index.url + "project/tinyhttp/")
    assert "1.1" in page.locator("main").inner_text()


def test_yank_with_a_reason(signed_in: tuple[Any, web.Watch], index: Any, shots: Path) -> None:
    page, _ = signed_in
    page.goto(index.url + "manage/project/tinyhttp/")
    release = page.locator("section.release", has=page.get_by_role("heading", name="0.9"))
    release.get_by_label("Reason").fill("Superseded by 1.0: timeouts were ignored")
    release.get_by_role("button", name="Yank 0.9").click()
    expect(page.get_by_role("status")).to_be_visible()
    web.shoot(page, shots, "yanked")
    release = page.locator("section.release", has=page.get_by_role("heading", name="0.9"))
    assert "timeouts were ignored" in release.inner_text()
    page.goto(index.url + "simple/tinyhttp/")
    reasons = page.locator("a[data-yanked]").evaluate_all("a => a.map(x => x.dataset.yanked)")
    assert reasons == ["Superseded by 1.0: timeouts were ignored"]


def test_add_a_co_owner(signed_in: tuple[Any, web.Watch], index: Any, shots: Path) -> None:
    page, _ = signed_in
    page.goto(index.url + "manage/project/tinyhttp/")
    page.get_by_label("Add an owner").fill("nobody-here")
    page.get_by_role("button", name="Add owner").click()
    expect(page.get_by_role("alert")).to_be_visible()  # no such account: said, nothing added
    page.get_by_label("Add an owner").fill("bob")
    page.get_by_role("button", name="Add owner").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert page.locator("#owners").inner_text().split() == ["ada", "Remove", "bob", "Remove"]
    web.shoot(page, shots, "co-owner")
    owners = index.cli("owner", "list", "tinyhttp", check=False)
    if owners.returncode == 0:
        assert "bob" in owners.stdout


def test_hostile_input_in_the_forms_runs_nowhere(
    signed_in: tuple[Any, web.Watch], index: Any
) -> None:
    page, watch = signed_in
    page.goto(index.url + "manage/account/tokens/")
    page.get_by_label("Description").fill(payloads.TOKEN_DESCRIPTION)
    page.get_by_role("button", name="Create the token").click()
    expect(page.locator("#token-secret")).to_be_visible()
    assert payloads.TOKEN_DESCRIPTION in page.locator("#tokens").inner_text()
    page.goto(index.url + "manage/project/colorful-logs/")
    page.get_by_label("Reason").fill(payloads.YANK_REASON)
    page.get_by_role("button", name="Yank 2.3.1").click()
    expect(page.get_by_role("status")).to_be_visible()
    for path in (
        "manage/account/tokens/",
        "manage/project/colorful-logs/",
        "project/colorful-logs/2.3.1/",
        "project/colorful-logs/history/",
    ):
        response = page.goto(index.url + path)
        assert response is not None
        assert response.status == 200
        assert web.forbids_script(response) is None
        assert web.hostile_markup(page) == []
    assert watch.dialogs == []
    assert watch.errors == []


ATTACK = """<!DOCTYPE html><html><body><h1>You won!</h1>
<form method="post" action="{action}">
<input type="hidden" name="csrf_token" value="{token}">
<input type="hidden" name="version" value="1.1">
<input type="hidden" name="reason" value="yanked by a foreign page">
<button id="claim">Claim your prize</button></form></body></html>"""


@pytest.mark.parametrize("token", ["guessed", "leaked"])
def test_a_foreign_page_cannot_post_as_the_maintainer(
    signed_in: tuple[Any, web.Watch], index: Any, tmp_path: Path, token: str
) -> None:
    """Another server on 127.0.0.1 is the same site (ports do not count), so the browser
    sends the session cookie with its form, SameSite=Lax or not: the CSRF token, and the
    Origin check where the token leaked, refuse it, and nothing changes."""
    page, _ = signed_in
    page.goto(index.url + "manage/project/tinyhttp/")
    real = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    action = index.url + "manage/project/tinyhttp/yank"
    form = ATTACK.format(action=action, token=real if token == "leaked" else "guessed")
    (tmp_path / "prize.html").write_text(form)
    with serving(tmp_path) as host:
        page.goto(host.url + "prize.html")
        with page.expect_request(action) as sent, page.expect_response(action) as answered:
            page.locator("#claim").click()
        headers = sent.value.all_headers()
        assert "tufpi_session=" in headers.get("cookie", "")  # the session went with it
        assert headers.get("origin") == host.url.rstrip("/")
        assert answered.value.status == 403
    page.goto(index.url + "manage/project/tinyhttp/")
    release = page.locator("section.release", has=page.get_by_role("heading", name="1.1"))
    expect(release.get_by_role("button", name="Yank 1.1")).to_be_visible()  # not yanked


def test_no_page_can_be_framed(
    signed_in: tuple[Any, web.Watch], index: Any, tmp_path: Path
) -> None:
    """A foreign page frames a page of its own host, shown, and tufpi's manage page, which
    answers (with the session) but which Chromium will not show: no clickjacking."""
    page, _ = signed_in
    target = index.url + "manage/project/tinyhttp/"
    (tmp_path / "own.html").write_text("<p>framed fine</p>")
    (tmp_path / "frames.html").write_text(
        f'<iframe id="own" src="own.html"></iframe><iframe id="tufpi" src="{target}"></iframe>'
    )
    with serving(tmp_path) as host:
        with page.expect_response(target) as answered:
            page.goto(host.url + "frames.html")
        assert answered.value.status == 200
        expect(page.frame_locator("#own").locator("p")).to_have_text("framed fine")
        frame = page.locator("#tufpi").element_handle().content_frame()
        assert frame is not None
        assert frame.locator("h1").count() == 0, frame.content()[:300]


SIGNED_IN_PAGES = {
    "manage": "manage/",
    "manage-project": "manage/project/sampleproject/",
    "manage-tokens": "manage/account/tokens/",
    "manage-account": "manage/account/",
}


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_page_is_accessible_and_fits_a_phone(
    session: dict[str, Any], browser: Any, index: Any, shots: Path, name: str
) -> None:
    state = session
    url = index.url + SIGNED_IN_PAGES[name]
    violations = web.audit(browser, url, storage_state=state)
    print(f"axe-core on {name}:\n{web.described(violations) or 'no violation'}")
    assert web.failing(violations) == [], "axe-core:\n" + web.described(web.failing(violations))
    with web.phone_page(browser, storage_state=state) as (phone, _):
        phone.goto(url)
        assert phone.url == url
        web.shoot(phone, shots, f"{name}-phone", full_page=False)
        assert web.phone_problems(phone) == []


def test_login_page_is_accessible(browser: Any, index: Any) -> None:
    violations = web.audit(browser, index.url + "account/login/")
    assert web.failing(violations) == [], "axe-core:\n" + web.described(web.failing(violations))
