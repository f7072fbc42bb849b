"""Credentials split off index URLs, and scrubbed from whatever is printed."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from tufpi.cli import main
from tufpi.client import conformance, credentials, installers
from tufpi.client.credentials import (
    TOKEN_ENV,
    CredentialsError,
    Redactor,
    parse_index_url,
    redact_url,
)
from tufpi.client.verified_index import ClientBounds, Location, cache_dir_for

TOKEN = "tufpi-s3cr3tRandomPartThatIsLongEnough_AAAAAAAAAA"


def test_userinfo_becomes_basic_auth_and_leaves_the_url() -> None:
    address = parse_index_url(f"https://__token__:{TOKEN}@pypi.example.org:8443/root")
    assert address.url == "https://pypi.example.org:8443/root/"
    assert address.password == TOKEN
    assert TOKEN not in repr(address)
    request = httpx.Request("GET", address.url)
    assert address.auth is not None
    header = next(address.auth.auth_flow(request)).headers["authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"__token__:{TOKEN}"


def test_token_from_the_environment_and_bare_userinfo() -> None:
    assert parse_index_url("http://h/", TOKEN).password == TOKEN
    bare = parse_index_url(f"http://{TOKEN}@h/")
    assert (bare.username, bare.password, bare.url) == ("__token__", TOKEN, "http://h/")
    assert parse_index_url("http://h").auth is None
    with pytest.raises(CredentialsError) as both:
        parse_index_url(f"http://__token__:{TOKEN}@h/", "other")
    assert TOKEN not in str(both.value)
    with pytest.raises(CredentialsError) as scheme:
        parse_index_url(f"ftp://__token__:{TOKEN}@h/")
    assert TOKEN not in str(scheme.value)


def test_redact_url_hides_any_userinfo() -> None:
    text = f"GET http://__token__:{TOKEN}@h/tuf/ then https://u:p@x/ and http://plain/"
    assert redact_url(text) == "GET http://***@h/tuf/ then https://***@x/ and http://plain/"


def test_the_redactor_scrubs_records_with_arguments_and_tracebacks() -> None:
    secrets = parse_index_url("http://h/", TOKEN).secrets
    redactor = Redactor(secrets)
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError as e:
        record = logging.LogRecord(
            "x", logging.INFO, "f", 1, "got %s", (TOKEN,), (ValueError, e, None)
        )
    assert redactor.filter(record)
    formatted = logging.Formatter().format(record)
    assert "got ***" in formatted
    assert "bad ***" in formatted
    assert TOKEN not in formatted
    assert secrets[1] not in redactor.scrub(f"Authorization: Basic {secrets[1]}")


def test_the_cache_directory_is_named_for_the_url_without_credentials(tmp_path: Path) -> None:
    raw = f"http://__token__:{TOKEN}@127.0.0.1:8080/"
    assert TOKEN in quote(raw.rstrip("/"), safe="")  # what naming it for the raw URL gave
    directory = cache_dir_for(tmp_path, parse_index_url(raw))
    assert directory == tmp_path / quote("http://127.0.0.1:8080", safe="")
    assert directory == cache_dir_for(tmp_path, parse_index_url("http://127.0.0.1:8080", "other"))


def test_an_old_cache_named_for_the_token_is_removed(tmp_path: Path) -> None:
    raw = f"http://__token__:{TOKEN}@127.0.0.1:8080/"
    old = tmp_path / quote(raw.rstrip("/"), safe="")
    (old / "metadata").mkdir(parents=True)
    credentials.forget_credentialed_cache(tmp_path, raw)
    assert not old.exists()


def test_the_installer_never_sees_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://elsewhere/")
    env = installers.installer_env()
    assert TOKEN_ENV not in env
    assert "PIP_EXTRA_INDEX_URL" not in env


def test_the_conformance_client_gets_the_proxys_bounds(tmp_path: Path) -> None:
    (tmp_path / "root.json").write_text("{}")
    location = Location("http://h/tuf/", tmp_path)
    with httpx.Client() as client:
        index = conformance.open_repository(location, client, ClientBounds().download_timeout)
    assert index.bounds == ClientBounds()
    assert (index.fetcher.read_timeout, index.fetcher.total_timeout) == (10.0, 60.0)
    assert index.bounds.config.timestamp_max_length == 16 * 1024
    with httpx.Client() as client:
        short = ClientBounds(download_timeout=2).fetcher(client)
    assert (short.read_timeout, short.total_timeout) == (2, 2)


def test_credentials_go_to_the_index_origin_only() -> None:
    auth = parse_index_url(f"https://__token__:{TOKEN}@pypi.example.org/").auth
    assert auth is not None
    own = next(auth.auth_flow(httpx.Request("GET", "https://pypi.example.org/tuf/1.root.json")))
    assert own.headers["authorization"].startswith("Basic ")
    for elsewhere in ("https://cdn.example.org/x", "http://pypi.example.org/x"):
        other = next(auth.auth_flow(httpx.Request("GET", elsewhere)))
        assert "authorization" not in other.headers


def test_a_token_in_pyproject_is_refused_without_being_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.tufpi]\nindex = "https://__token__:{TOKEN}@pypi.example.org/"\nroot-sha256 = "00"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["install", "--cache-dir", str(tmp_path / "c"), "--", "x"])
    assert result.exit_code == 2
    assert "holds credentials" in result.output
    assert TOKEN not in result.output
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    "given",
    [
        "https://pypi.example.org",
        "https://pypi.example.org/",
        "https://pypi.example.org/simple",
        "https://pypi.example.org/simple/",
        " https://pypi.example.org/simple/ ",
    ],
)
def test_the_index_is_its_root_or_its_simple_url(given: str) -> None:
    assert parse_index_url(given).url == "https://pypi.example.org/"


def test_an_index_under_a_path_keeps_it() -> None:
    assert parse_index_url("http://h:8080/org/pypi/simple/").url == "http://h:8080/org/pypi/"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("https://pypi.example.org/simple/requests/", "names a project page"),
        ("https://pypi.example.org/?x=1", "query or fragment"),
        ("pypi.example.org", "must be http"),
    ],
)
def test_urls_that_name_no_index_are_refused_in_words(given: str, words: str) -> None:
    with pytest.raises(CredentialsError, match=words):
        parse_index_url(given)
