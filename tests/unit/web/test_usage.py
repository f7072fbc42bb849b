"""The index's URL and the command lines shown to its users (tufpi.web.usage)."""

from __future__ import annotations

import shlex

import pytest

from tufpi.config import Settings
from tufpi.web import usage

FINGERPRINT = "ab" * 32


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("index.example.org", "http://index.example.org/"),
        ("index.example.org:8443", "http://index.example.org:8443/"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/"),
        ("[::1]:9000", "http://[::1]:9000/"),
    ],
)
def test_a_plain_host_header_is_the_url(host: str, expected: str) -> None:
    assert usage.request_url(Settings(port=8080), "http", host) == expected


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "<script>alert(1)</script>",
        'evil.example"><img src=x onerror=alert(1)>',
        "evil.example/path",
        "user@evil.example",
        "evil.example; rm -rf ~",
        "evil.example:99999999",
        "a" * 300,
        "evil example",
        "evil.example\r\nx: y",
    ],
)
def test_anything_else_in_host_gives_the_listening_address(host: str | None) -> None:
    settings = Settings(host="127.0.0.1", port=8080)
    assert usage.request_url(settings, "http", host) == "http://127.0.0.1:8080/"


def test_public_url_wins_over_the_host_header() -> None:
    settings = Settings(public_url="https://pypi.example.org/tufpi/")
    assert usage.request_url(settings, "http", "other.example") == settings.public_url
    assert usage.listening_url(settings) == settings.public_url


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0.0.0.0", "http://127.0.0.1:81/"), ("::", "http://[::1]:81/"), ("::1", "http://[::1]:81/")],
)
def test_a_wildcard_listening_address_is_shown_as_loopback(host: str, expected: str) -> None:
    assert usage.listening_url(Settings(host=host, port=81)) == expected


def test_commands_name_the_simple_url_and_pin_the_fingerprint() -> None:
    url = "http://127.0.0.1:8080/"
    plain = {c.what: c.line for c in usage.plain_commands(url)}
    assert plain["pip"] == "pip install --index-url http://127.0.0.1:8080/simple/ NAME"
    assert "--extra-index-url" not in " ".join(plain.values())
    verified = {c.what: c.line for c in usage.verified_commands(url, FINGERPRINT)}
    assert shlex.split(verified["install, verified"]) == [
        "tufpi", "install", "--index", url, "--root-sha256", FINGERPRINT, "--", "NAME",
    ]  # fmt: skip
    assert shlex.split(verified["proxy, verified"]) == [
        "tufpi", "proxy", "--index", url, "--root-sha256", FINGERPRINT,
    ]  # fmt: skip


def test_a_public_url_with_shell_characters_is_quoted() -> None:
    # Not a URL public_url accepts (config refuses it); quoted all the same.
    line = usage.verified_commands("http://x/a b/", FINGERPRINT)[0].line
    assert shlex.split(line)[3] == "http://x/a b/"


def test_start_lines_give_fingerprint_install_and_proxy() -> None:
    lines = usage.start_lines("http://127.0.0.1:8080/", FINGERPRINT)
    assert FINGERPRINT in lines[0]
    assert "tufpi install --index http://127.0.0.1:8080/ --root-sha256" in lines[1]
    assert "tufpi proxy --index http://127.0.0.1:8080/ --root-sha256" in lines[2]
