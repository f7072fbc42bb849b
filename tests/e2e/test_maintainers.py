"""Maintainers act for themselves (issue 16), end to end: the real remote CLI
(``tufpi --index URL ...``, a process with no access to the index's database) and twine
against a running server, its management API attacked directly with httpx.

alice uploads and adds bob as a co-owner; bob uploads with his own token; alice yanks with a
reason (the simple page shows it, PEP 592), un-yanks and removes a file; a project-scoped
token manages nothing; nobody removes the last owner; a non-owner is refused and nothing
changes; each action is in the journal with its account and way; an imported project with
no owner is refused uploads until the administrator gives it one. The tests run in order
and build on each other.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import clients
from tests.support.server import IndexServer
from tests.support.state import query, snapshot
from tests.support.uploads import post_wheel, tiny_wheel

PROJECT = "maint-demo"
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def tokens(index_server: IndexServer) -> dict[str, str]:
    """Account-wide tokens of alice, bob and carol (one tufpi process)."""
    users = ("alice", "bob", "carol")
    commands = [
        c
        for u in users
        for c in (["user", "add", u, "--no-password"], ["token", "create", "--user", u])
    ]
    outputs = index_server.cli_each(*commands)
    return {user: outputs[2 * i + 1].strip() for i, user in enumerate(users)}


def remote(
    server: IndexServer, token: str, *args: str, env_token: bool = True
) -> subprocess.CompletedProcess[str]:
    """``tufpi --index URL ARGS`` with ``token``, in an environment that names no database
    (a command that opened one instead of calling the API would fail)."""
    auth = {"TUFPI_INDEX_TOKEN": token} if env_token else {}
    return subprocess.run(
        [sys.executable, "-m", "tufpi.cli", "--index", server.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clients.clean_env(TUFPI_DATABASE_URL="sqlite:////nonexistent/no.sqlite3", **auth),
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def wheel_file(tmp: Path, name: str, version: str) -> Path:
    filename, data = tiny_wheel(name, version)
    path = tmp / filename
    path.write_bytes(data)
    return path


def twine(server: IndexServer, token: str, path: Path) -> subprocess.CompletedProcess[str]:
    return clients.twine_upload(server.url, token, [path])


def api(
    server: IndexServer, token: str | None, method: str, path: str, **kw: object
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))  # type: ignore[call-overload]
    return httpx.request(method, f"{server.url}api/v1/{path}", headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def simple_files(server: IndexServer) -> dict[str, object]:
    """filename -> its ``yanked`` value on the project's PEP 691 page."""
    page = httpx.get(f"{server.simple}{PROJECT}/", headers={"accept": JSON}, timeout=30)
    assert page.status_code == 200, page.text
    return {f["filename"]: f.get("yanked", False) for f in page.json()["files"]}


def journal(server: IndexServer, project: str) -> list[tuple[str, str, str, str]]:
    rows = query(
        server.database_url,
        "SELECT action, account, via, detail FROM journal WHERE project = :p ORDER BY id",
        p=project,
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def token_id(server: IndexServer, secret: str) -> int:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return int(
        query(server.database_url, "SELECT id FROM tokens WHERE digest = :d", d=digest)[0][0]
    )


def test_an_owner_adds_a_co_owner_who_uploads_with_his_own_token(
    index_server: IndexServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert (
        twine(index_server, tokens["alice"], wheel_file(tmp_path, PROJECT, "1.0")).returncode == 0
    )
    bobs = wheel_file(tmp_path, PROJECT, "1.1")
    refused = twine(index_server, tokens["bob"], bobs)
    assert refused.returncode != 0
    assert "not an owner" in refused.stdout + refused.stderr

    assert ok(remote(index_server, tokens["alice"], "owner", "add", PROJECT, "bob")) == (
        f"bob now owns {PROJECT}\n"
    )
    assert api(index_server, tokens["bob"], "GET", f"projects/{PROJECT}/owners").json() == {
        "owners": ["alice", "bob"]
    }
    uploaded = twine(index_server, tokens["bob"], bobs)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert set(simple_files(index_server)) == {
        "maint_demo-1.0-py3-none-any.whl",
        "maint_demo-1.1-py3-none-any.whl",
    }


def test_yank_with_a_reason_shows_on_the_simple_page_then_unyank(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    said = ok(
        remote(index_server, tokens["alice"], "yank", PROJECT, "1.0", "--reason", "broken build")
    )
    assert said == f"yanked {PROJECT} 1.0\n"
    assert simple_files(index_server)["maint_demo-1.0-py3-none-any.whl"] == "broken build"
    html = httpx.get(f"{index_server.simple}{PROJECT}/", timeout=30).text
    assert 'data-yanked="broken build"' in html

    ok(remote(index_server, tokens["alice"], "yank", PROJECT, "1.0", "--undo"))
    assert simple_files(index_server)["maint_demo-1.0-py3-none-any.whl"] is False


def test_an_owner_removes_a_file(index_server: IndexServer, tokens: dict[str, str]) -> None:
    filename = "maint_demo-1.1-py3-none-any.whl"
    said = ok(
        remote(index_server, tokens["alice"], "remove", PROJECT, "1.1", "--file", filename, "--yes")
    )
    assert said == f"removed {filename}\n"
    assert set(simple_files(index_server)) == {"maint_demo-1.0-py3-none-any.whl"}
    # A whole project is the administrator's to remove, on the server.
    refused = remote(index_server, tokens["alice"], "remove", PROJECT, "--yes")
    assert refused.returncode != 0
    assert "removing a whole project is an administrator's action" in refused.stderr


def test_a_project_scoped_token_manages_nothing(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    scoped = ok(
        remote(index_server, tokens["alice"], "token", "create", "--project", PROJECT)
    ).strip()
    before = snapshot(index_server)
    sentence = (
        f"This API token is limited to uploads to project {PROJECT}; "
        "managing projects needs an account-wide token."
    )
    for method, path in [
        ("GET", f"projects/{PROJECT}/owners"),
        ("POST", f"projects/{PROJECT}/releases/1.0/yank"),
        ("DELETE", f"projects/{PROJECT}/releases/1.0"),
        ("GET", "tokens"),
    ]:
        answer = api(index_server, scoped, method, path)
        assert (answer.status_code, answer.text) == (403, sentence + "\n"), (method, path)
    # The remote CLI prints the server's sentence and fails.
    refused = remote(index_server, scoped, "owner", "add", PROJECT, "carol")
    assert refused.returncode == 1
    assert sentence in refused.stderr
    assert snapshot(index_server) == before
    # Yet it is a valid token of an owner: it uploads.
    with httpx.Client(timeout=30) as client:
        uploaded = post_wheel(client, index_server.url, scoped, PROJECT, "1.2")
    assert uploaded.status_code == 200, uploaded.text


def test_nobody_removes_the_last_owner_and_a_non_owner_changes_nothing(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    ok(remote(index_server, tokens["alice"], "owner", "remove", PROJECT, "bob"))
    before = snapshot(index_server)
    refusals = [
        (tokens["bob"], ["owner", "remove", PROJECT, "alice"], "User 'bob' is not an owner"),
        (tokens["alice"], ["owner", "remove", PROJECT, "alice"], "'alice' is the last owner"),
        (tokens["carol"], ["yank", PROJECT, "1.0"], "User 'carol' is not an owner"),
    ]
    for token, args, sentence in refusals:
        refused = remote(index_server, token, *args)
        assert refused.returncode == 1, args
        assert "the index refused (403)" in refused.stderr, args
        assert sentence in refused.stderr, args
    carol = "User 'carol' is not an owner of project 'maint-demo'.\n"
    for method, path, body in [
        ("POST", f"projects/{PROJECT}/owners", {"user": "carol"}),
        ("DELETE", f"projects/{PROJECT}/owners/alice", None),
        ("POST", f"projects/{PROJECT}/releases/1.0/unyank", None),
        ("DELETE", f"projects/{PROJECT}/releases/1.0", None),
        ("DELETE", f"projects/{PROJECT}/releases/1.0/files/maint_demo-1.0-py3-none-any.whl", None),
    ]:
        answer = api(index_server, tokens["carol"], method, path, json=body)
        assert (answer.status_code, answer.text) == (403, carol), (method, path)
    assert snapshot(index_server) == before
    assert api(index_server, tokens["alice"], "GET", f"projects/{PROJECT}/owners").json() == {
        "owners": ["alice"]
    }


def test_another_users_token_is_not_found_and_keeps_working(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    alices = token_id(index_server, tokens["alice"])
    before = snapshot(index_server)
    for wanted in (alices, 99_999_999, 10**12, "1" * 40, "-1"):
        answer = api(index_server, tokens["carol"], "DELETE", f"tokens/{wanted}")
        assert (answer.status_code, answer.text) == (404, "No such token.\n")
    assert snapshot(index_server) == before
    # carol lists only her own; alice's token still works (Basic __token__ as well).
    listed = api(index_server, tokens["carol"], "GET", "tokens").json()["tokens"]
    assert [t["user"] for t in listed] == ["carol"]
    answer = httpx.get(
        f"{index_server.url}api/v1/tokens", auth=("__token__", tokens["alice"]), timeout=30
    )
    assert answer.status_code == 200
    assert alices in [t["id"] for t in answer.json()["tokens"]]


def test_hostile_requests_are_refused_with_a_sentence(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    alice = tokens["alice"]
    owners = f"projects/{PROJECT}/owners"
    before = snapshot(index_server)
    json_type = {"content-type": "application/json"}
    cases: list[tuple[dict[str, object], int, str]] = [
        (
            {"content": b'{"user": "' + b"b" * 70_000 + b'"}', "headers": json_type},
            413,
            "over 65536 bytes",
        ),
        # The same sent chunked, with no Content-Length: refused once past the limit.
        (
            {"content": iter([b'{"user": "'] + [b"b" * 8192] * 9), "headers": json_type},
            413,
            "over 65536 bytes",
        ),
        (
            {
                "content": b"user=bob",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            415,
            "must be application/json",
        ),
        ({"content": b'{"user": ', "headers": json_type}, 400, "not valid JSON"),
        ({"content": b"[" * 60_000, "headers": json_type}, 400, "not valid JSON"),
        ({"content": b'["bob"]', "headers": json_type}, 400, "must be a JSON object"),
        ({"json": {"user": 7}}, 400, "The field 'user' must be a non-empty string."),
        ({"json": {"user": "bob", "admin": True}}, 400, "Unknown field 'admin'"),
    ]
    for kw, status, said in cases:
        answer = api(index_server, alice, "POST", owners, **kw)
        assert answer.status_code == status, (answer.status_code, answer.text)
        assert said in answer.text
    reason = api(
        index_server,
        alice,
        "POST",
        f"projects/{PROJECT}/releases/1.0/yank",
        json={"reason": "a\nb"},
    )
    assert (reason.status_code, reason.text) == (
        400,
        "The reason holds the control character U+000A; only plain text on one line is allowed.\n",
    )
    # Never a cookie: a browser's credentials are not the API's.
    cookie = httpx.get(
        f"{index_server.url}api/v1/tokens", cookies={"tufpi_session": alice}, timeout=30
    )
    assert cookie.status_code == 401
    assert snapshot(index_server) == before


def test_the_journal_says_who_did_what_and_how(
    index_server: IndexServer, tokens: dict[str, str]
) -> None:
    alice, bob = (f"token {token_id(index_server, tokens[u])}" for u in ("alice", "bob"))
    (scoped,) = query(
        index_server.database_url, "SELECT id FROM tokens WHERE project = :p", p=PROJECT
    )
    assert journal(index_server, PROJECT) == [
        ("file added", "alice", alice, "maint_demo-1.0-py3-none-any.whl"),
        ("owner added", "alice", alice, "bob"),
        ("file added", "bob", bob, "maint_demo-1.1-py3-none-any.whl"),
        ("release yanked", "alice", alice, "1.0: broken build"),
        ("release unyanked", "alice", alice, "1.0"),
        ("file removed", "alice", alice, "maint_demo-1.1-py3-none-any.whl"),
        ("file added", "alice", f"token {scoped[0]}", "maint_demo-1.2-py3-none-any.whl"),
        ("owner removed", "alice", alice, "bob"),
    ]
    printed = index_server.cli("journal", "--project", PROJECT).stdout.splitlines()
    assert [line.split("\t")[1:6] for line in printed][:2] == [
        [PROJECT, "owner removed", "alice", alice, "bob"],
        [PROJECT, "file added", "alice", f"token {scoped[0]}", "maint_demo-1.2-py3-none-any.whl"],
    ]


def test_an_ownerless_imported_project_gets_an_owner(
    index_server: IndexServer, tokens: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    wheel_file(source, "maint-orphan", "1.0")
    imported = index_server.cli("import", str(source), "--no-publish", "--jobs", "1")
    assert "1 project imported without --owner now has no owner" in imported.stdout
    assert "tufpi owner add PROJECT USER" in imported.stdout
    upload = wheel_file(tmp_path, "maint-orphan", "2.0")
    with httpx.Client(timeout=30) as client:
        refused = post_wheel(client, index_server.url, tokens["alice"], "maint-orphan", "2.0")
    assert refused.status_code == 403
    assert refused.text == "User 'alice' is not an owner of project 'maint-orphan'.\n"
    # alice cannot make herself its owner; the administrator can.
    herself = api(
        index_server,
        tokens["alice"],
        "POST",
        "projects/maint-orphan/owners",
        json={"user": "alice"},
    )
    assert (herself.status_code, herself.text) == (
        403,
        "User 'alice' is not an owner of project 'maint-orphan'.\n",
    )
    assert (
        index_server.cli("owner", "add", "maint-orphan", "alice").stdout
        == "alice now owns maint-orphan\n"
    )
    uploaded = twine(index_server, tokens["alice"], upload)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert journal(index_server, "maint-orphan") == [
        ("file added", "admin", "server", "imported maint_orphan-1.0-py3-none-any.whl"),
        ("owner added", "admin", "server", "alice"),
        (
            "file added",
            "alice",
            f"token {token_id(index_server, tokens['alice'])}",
            "maint_orphan-2.0-py3-none-any.whl",
        ),
    ]
