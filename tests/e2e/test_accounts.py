"""Accounts and API tokens against a running server: Basic auth with ``__token__``, tokens for
one project or all of a user's projects, ownership by first upload, revocation, tokens kept
only as hashes, and the private mode in which reads need a token too.

Every refusal is checked twice: the client sees our message, and the database rows and stored
files are exactly as before.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from tests.support import clients
from tests.support import server as server_support
from tests.support.dists import make_dists
from tests.support.server import IndexServer
from tests.support.state import query, snapshot

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def twine(server: IndexServer, token: str, files: list[Path]) -> tuple[int, str]:
    """Run twine; return its exit code and its output with colours and line breaks removed."""
    result = clients.twine_upload(server.url, token, files)
    return result.returncode, " ".join(_ANSI.sub("", result.stdout + result.stderr).split())


def refused_by_twine(server: IndexServer, token: str, files: list[Path], status: str) -> str:
    """Upload with twine, expecting a refusal that changes nothing; returns twine's output."""
    before = snapshot(server)
    code, output = twine(server, token, files)
    assert code != 0, output
    assert f"HTTPError: {status}" in output
    assert snapshot(server) == before
    return output


def owners_of(server: IndexServer, normalized: str) -> list[str]:
    rows = query(
        server.database_url,
        "SELECT users.name FROM owners JOIN users ON users.id = owners.user_id "
        "JOIN projects ON projects.id = owners.project_id "
        "WHERE projects.normalized_name = :name ORDER BY users.name",
        name=normalized,
    )
    return [r[0] for r in rows]


@pytest.fixture(autouse=True)
def _wide_twine_output(monkeypatch: pytest.MonkeyPatch) -> None:
    # twine's rich console wraps at 80 columns and may split a long word; give it room.
    monkeypatch.setenv("COLUMNS", "1000")


@pytest.fixture(scope="module")
def alice(index_server: IndexServer) -> str:
    """A token for all of alice's projects."""
    return index_server.new_user("alice")


@pytest.fixture(scope="module")
def bob(index_server: IndexServer) -> str:
    """A token for all of bob's projects."""
    return index_server.new_user("bob")


def _wheel(dists: list[Path]) -> Path:
    return next(p for p in dists if p.name.endswith(".whl"))


# -- authentication -----------------------------------------------------------------------


def _post_upload(
    server: IndexServer,
    wheel: Path,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A well-formed upload of tufpi-anon 1.0; only the credentials vary."""
    data = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": "tufpi-anon",
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
        "sha256_digest": hashlib.sha256(wheel.read_bytes()).hexdigest(),
    }
    files = {"content": (wheel.name, wheel.read_bytes(), "application/octet-stream")}
    return httpx.post(
        server.url + "legacy/", data=data, files=files, auth=auth, headers=headers, timeout=60
    )


@pytest.fixture(scope="module")
def anon_wheel(workdir: Path) -> Path:
    return _wheel(make_dists(workdir, "tufpi-anon", "1.0"))


def test_reads_are_public_by_default(index_server: IndexServer) -> None:
    response = httpx.get(index_server.simple)
    assert response.status_code == 200
    assert "www-authenticate" not in response.headers


def test_upload_without_credentials_gets_a_challenge(
    index_server: IndexServer, anon_wheel: Path
) -> None:
    before = snapshot(index_server)
    response = _post_upload(index_server, anon_wheel)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="tufpi"'
    assert "Authentication required: use __token__ and an API token." in response.reason_phrase
    assert snapshot(index_server) == before


def test_upload_with_a_username_other_than_token_is_refused(
    index_server: IndexServer, alice: str, anon_wheel: Path
) -> None:
    """A real token under another username is refused too: the username must be __token__."""
    before = snapshot(index_server)
    response = _post_upload(index_server, anon_wheel, auth=("alice", alice))
    assert response.status_code == 401
    assert "the username must be __token__" in response.reason_phrase
    assert response.headers["www-authenticate"] == 'Basic realm="tufpi"'
    assert snapshot(index_server) == before


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer tufpi-abc", id="bearer"),
        pytest.param("Basic", id="basic-without-value"),
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param(_basic(b"__token__"), id="no-colon"),
        pytest.param(_basic(b"__token__:\xff\xfe"), id="not-utf8"),
    ],
)
def test_malformed_authorization_is_refused(
    index_server: IndexServer, anon_wheel: Path, authorization: str
) -> None:
    before = snapshot(index_server)
    response = _post_upload(index_server, anon_wheel, headers={"authorization": authorization})
    assert response.status_code == 401
    assert "Authentication required" in response.reason_phrase
    assert snapshot(index_server) == before


def test_twine_with_an_unknown_token_is_refused(
    index_server: IndexServer, anon_wheel: Path
) -> None:
    output = refused_by_twine(index_server, "tufpi-" + "A" * 43, [anon_wheel], "401")
    assert "Invalid or revoked API token." in output


def test_twine_with_a_revoked_token_is_refused(
    index_server: IndexServer, alice: str, workdir: Path
) -> None:
    first = make_dists(workdir, "tufpi-revoke", "1.0")
    second = make_dists(workdir, "tufpi-revoke", "2.0")
    by_secret = index_server.cli("token", "create", "--user", "alice").stdout.strip()
    code, output = twine(index_server, by_secret, first)
    assert code == 0, output

    index_server.cli("token", "revoke", by_secret)
    output = refused_by_twine(index_server, by_secret, second, "401")
    assert "Invalid or revoked API token." in output

    by_id = index_server.cli(
        "token", "create", "--user", "alice", "--description", "revoke-me-by-id"
    ).stdout.strip()
    listing = index_server.cli("token", "list").stdout
    line = next(x for x in listing.splitlines() if x.endswith("revoke-me-by-id"))
    assert "\tactive\t" in line
    index_server.cli("token", "revoke", line.split("\t")[0])
    assert "\trevoked\t" in next(
        x for x in index_server.cli("token", "list").stdout.splitlines() if x.endswith("by-id")
    )
    output = refused_by_twine(index_server, by_id, second, "401")
    assert "Invalid or revoked API token." in output
    # alice's other token still works.
    code, output = twine(index_server, alice, second)
    assert code == 0, output


# -- ownership and token scope -------------------------------------------------------------


def test_first_uploader_owns_the_project_and_nobody_else_may_upload(
    index_server: IndexServer, alice: str, bob: str, workdir: Path
) -> None:
    first = make_dists(workdir, "tufpi-owned", "1.0")
    code, output = twine(index_server, alice, first)
    assert code == 0, output
    assert owners_of(index_server, "tufpi-owned") == ["alice"]
    not_owner = "User 'bob' is not an owner of project 'tufpi-owned'."

    second = make_dists(workdir, "tufpi-owned", "2.0")
    assert not_owner in refused_by_twine(index_server, bob, second, "403")

    scoped = index_server.cli("token", "create", "--user", "bob", "--project", "tufpi-owned")
    assert not_owner in refused_by_twine(index_server, scoped.stdout.strip(), second, "403")

    # Not even alice's exact files: bob gets no "already exists" answer for a project not his.
    assert not_owner in refused_by_twine(index_server, bob, [_wheel(first)], "403")
    other = make_dists(workdir / "bob", "tufpi-owned", "1.0", summary="bob's version")
    assert not_owner in refused_by_twine(index_server, bob, [_wheel(other)], "403")

    code, output = twine(index_server, alice, second)
    assert code == 0, output
    assert owners_of(index_server, "tufpi-owned") == ["alice"]


def test_project_scoped_token_uploads_only_to_its_project(
    index_server: IndexServer, workdir: Path
) -> None:
    index_server.cli("user", "add", "carol", "--no-password")
    # The scope is kept normalised: any spelling of the name works.
    token = index_server.cli(
        "token", "create", "--user", "carol", "--project", "Tufpi_Scoped"
    ).stdout.strip()
    code, output = twine(index_server, token, make_dists(workdir, "tufpi-scoped", "1.0"))
    assert code == 0, output
    assert owners_of(index_server, "tufpi-scoped") == ["carol"]

    elsewhere = make_dists(workdir, "tufpi-elsewhere", "1.0")
    output = refused_by_twine(index_server, token, elsewhere, "403")
    assert "This API token is limited to project 'tufpi-scoped'" in output
    assert owners_of(index_server, "tufpi-elsewhere") == []


# -- tokens at rest and the CLI -----------------------------------------------------------


def test_tokens_are_stored_only_as_hashes(index_server: IndexServer, workdir: Path) -> None:
    index_server.cli("user", "add", "dave", "--no-password")
    secret = index_server.cli("token", "create", "--user", "dave").stdout.strip()
    assert len(secret) >= 40
    # The secret works (so it is the real one), yet occurs nowhere the index keeps.
    code, output = twine(index_server, secret, make_dists(workdir, "tufpi-hashed", "1.0"))
    assert code == 0, output
    random_part = secret.split("-", 1)[1]
    engine = create_engine(index_server.database_url)
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():  # every table, not just tokens
                for row in conn.execute(text(f"SELECT * FROM {table}")):
                    assert random_part not in str(tuple(row)), f"{table} holds the token"
    finally:
        engine.dispose()
    for path in index_server.data_dir.rglob("*"):
        if path.is_file() and path.name != "serve.log":
            assert random_part.encode() not in path.read_bytes(), path
    assert random_part not in index_server.cli("token", "list").stdout
    assert random_part not in (index_server.data_dir / "serve.log").read_text()


def test_cli_refusals_change_nothing(index_server: IndexServer) -> None:
    index_server.cli("user", "add", "erin", "--no-password")
    before = snapshot(index_server)
    for args, message in [
        (["user", "add", "erin", "--no-password"], "User 'erin' already exists."),
        (["token", "create", "--user", "nobody"], "No user 'nobody'."),
        (["token", "revoke", "tufpi-not-a-token"], "No such token."),
        (["token", "revoke", "999999"], "No such token."),
    ]:
        result = index_server.cli(*args, check=False)
        assert result.returncode != 0
        assert message in result.stderr
    assert snapshot(index_server) == before


# -- a private index ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_server(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexServer]:
    """A second index, on its own database, started with TUFPI_PRIVATE=1."""
    with contextlib.ExitStack() as stack:
        url = None
        if database_url is not None:
            url = stack.enter_context(server_support.postgres_database())
        srv = server_support.start(tmp_path_factory.mktemp("private"), url, private="1")
        stack.callback(srv.stop)
        yield srv


@pytest.fixture(scope="module")
def private_token(private_server: IndexServer, workdir: Path) -> str:
    """A reader's token, after tufpi-private 1.0 was uploaded to the private index."""
    token = private_server.new_user("paula")
    code, output = twine(private_server, token, make_dists(workdir, "tufpi-private", "1.0"))
    assert code == 0, output
    return token


def _private_urls(server: IndexServer, token: str) -> list[str]:
    api = httpx.get(server.url + "pypi/tufpi-private/json", auth=("__token__", token))
    assert api.status_code == 200, api.text
    files = [u["url"] for u in api.json()["urls"]]
    assert len(files) == 2
    return [
        server.simple,
        server.simple + "tufpi-private/",
        server.simple + "tufpi-private/?format=application/vnd.pypi.simple.v1%2Bjson",
        server.url + "pypi/tufpi-private/json",
        server.url + "pypi/tufpi-private/1.0/json",
        *files,
        *(u + ".metadata" for u in files if u.endswith(".whl")),
        # The transparency log, like /tuf/ (trust init's checkpoint logs its publication).
        server.url + "tlog/checkpoint",
        server.url + "tlog/tile/0/000.p/1",
    ]


def test_private_index_reads_need_a_valid_token(
    private_server: IndexServer, private_token: str
) -> None:
    revoked = private_server.cli("token", "create", "--user", "paula").stdout.strip()
    private_server.cli("token", "revoke", revoked)
    for url in _private_urls(private_server, private_token):
        for auth in (None, ("__token__", "tufpi-wrong"), ("__token__", revoked)):
            response = httpx.get(url, auth=auth)
            assert response.status_code == 401, (url, auth)
            assert response.headers["www-authenticate"] == 'Basic realm="tufpi"'
            assert "tufpi_private" not in response.text
        allowed = httpx.get(url, auth=("__token__", private_token))
        assert allowed.status_code == 200, (url, allowed.text)
        # A shared cache must not keep an answer given to one token for everybody.
        assert "public" not in allowed.headers.get("cache-control", ""), url


def test_private_index_does_not_reveal_which_projects_exist(
    private_server: IndexServer, private_token: str
) -> None:
    for path in ("simple/tufpi-private/", "simple/no-such-project/", "pypi/no-such-project/json"):
        assert httpx.get(private_server.url + path).status_code == 401
    missing = httpx.get(
        private_server.simple + "no-such-project/", auth=("__token__", private_token)
    )
    assert missing.status_code == 404


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_install_from_private_index_with_credentials_in_the_url(
    private_server: IndexServer, private_token: str, tmp_path: Path, installer: str
) -> None:
    install = clients.pip_install if installer == "pip" else clients.uv_pip_install
    no_prompt = ["--no-input"] if installer == "pip" else []
    anonymous = install(private_server.simple, tmp_path / "anon", *no_prompt, "tufpi-private")
    assert anonymous.returncode != 0
    assert not (tmp_path / "anon" / "tufpi_private").exists()

    with_token = private_server.simple.replace("http://", f"http://__token__:{private_token}@")
    result = install(with_token, tmp_path / "ok", *no_prompt, "tufpi-private")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "ok" / "tufpi_private" / "__init__.py").read_text() == "VERSION = '1.0'\n"
