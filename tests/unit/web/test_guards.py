"""The checks of a browser's form posts (``web.guards``), each with the attack it stops."""

from __future__ import annotations

import pytest

from tufpi.web import guards
from tufpi.web.browser import flash_of, flash_value

OWN = {"http://127.0.0.1:8000", "https://pypi.example.org"}


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/manage/\r\nSet-Cookie: x=1",
        "manage/",
        "",
        None,
        "/" + "a" * guards.MAX_NEXT,
    ],
)
def test_next_is_never_another_site(target: str | None) -> None:
    assert guards.local_path(target) == "/manage/"


def test_next_keeps_a_local_path() -> None:
    assert guards.local_path("/manage/project/demo/?x=1") == "/manage/project/demo/?x=1"
    assert guards.local_path("/project/a/") == "/project/a/"


def test_the_naive_check_an_open_redirect_passes() -> None:
    # "starts with /" alone lets //evil.example through: browsers read it as a host.
    naive = "//evil.example/".startswith("/")
    assert naive
    assert guards.local_path("//evil.example/") == "/manage/"


def test_csrf_tokens_compare_exactly() -> None:
    assert guards.tokens_match("abc", "abc")
    assert not guards.tokens_match("abc", "abd")
    assert not guards.tokens_match("abc", None)
    assert not guards.tokens_match("", "")
    assert not guards.tokens_match(None, None)


def test_origin() -> None:
    assert guards.origin_of("http://127.0.0.1:8000/manage/") == "http://127.0.0.1:8000"
    assert guards.origin_of("https://PyPI.example.org:443/") == "https://pypi.example.org"
    assert guards.origin_allowed(None, OWN)  # no header: the CSRF token still guards
    assert guards.origin_allowed("http://127.0.0.1:8000", OWN)
    assert guards.origin_allowed("https://pypi.example.org", OWN)
    for other in (
        "https://evil.example",
        "null",
        "http://127.0.0.1:8001",
        "http://pypi.example.org",
    ):
        assert not guards.origin_allowed(other, OWN)


def test_cookies_are_secure_on_https() -> None:
    assert guards.cookie_secure("https", "")
    assert guards.cookie_secure("http", "https://pypi.example.org/")
    assert not guards.cookie_secure("http", "http://127.0.0.1:8000/")


def test_flash_messages_are_signed_for_one_session() -> None:
    value = flash_value("key-of-session", "Token 3 is revoked.")
    shown = flash_of(value, "key-of-session")
    assert shown is not None
    assert shown.text == "Token 3 is revoked."
    assert not shown.error
    assert flash_of(value, "key-of-another-session") is None
    assert flash_of("forged.value", "key-of-session") is None
    assert flash_of(value, None) is None
    error = flash_of(flash_value("k", "No.", error=True), "k")
    assert error is not None
    assert error.error
