"""API token secrets and Basic auth parsing (tufpi.index.tokens)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tufpi.index import tokens


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_new_tokens_are_prefixed_random_and_long() -> None:
    made = {tokens.new_token() for _ in range(50)}
    assert len(made) == 50
    for token in made:
        assert token.startswith(tokens.PREFIX)
        # 32 random bytes, urlsafe base64 without padding: 43 characters.
        assert len(token) == len(tokens.PREFIX) + 43
        assert base64.urlsafe_b64decode(token[len(tokens.PREFIX) :] + "=")


def test_digest_is_the_sha256_hex_of_the_token() -> None:
    assert tokens.digest("tufpi-abc") == hashlib.sha256(b"tufpi-abc").hexdigest()
    assert tokens.digest("tufpi-abc") != tokens.digest("tufpi-abd")


def test_parse_basic_auth() -> None:
    assert tokens.parse_basic_auth(basic(b"__token__:tufpi-secret")) == (
        "__token__",
        "tufpi-secret",
    )


def test_password_may_contain_colons_and_unicode() -> None:
    header = basic("user:pa:ss\u00e9".encode())
    assert tokens.parse_basic_auth(header) == ("user", "pa:ss\u00e9")


def test_scheme_is_case_insensitive() -> None:
    value = base64.b64encode(b"u:p").decode()
    assert tokens.parse_basic_auth("bAsIc " + value) == ("u", "p")


def test_empty_username_and_password_are_returned_as_is() -> None:
    assert tokens.parse_basic_auth(basic(b":")) == ("", "")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer dG9rZW4=",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        basic(b"user:\xff\xfe"),
    ],
    ids=["none", "empty", "no-value", "blank-value", "bearer", "bad-base64", "no-colon", "latin1"],
)
def test_unusable_headers_give_none(header: str | None) -> None:
    assert tokens.parse_basic_auth(header) is None
