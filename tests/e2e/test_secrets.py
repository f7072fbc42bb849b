"""No secret in any log line, URL, path or error: a private index's whole flow, every output
of every process and every path it created searched for the tokens it used.

The leak this guards against, as it was: ``tufpi proxy --index
http://__token__:TOKEN@host/`` kept the token inside the index URL, so httpx logged it on
every request the proxy made (``INFO: HTTP Request: GET
http://__token__:tufpi-...@127.0.0.1:PORT/tuf/timestamp.json``), it reached refusal messages
(``cannot fetch the index's first root http://__token__:tufpi-...@...``), and the cache
directory was named for the quoted URL, ``http%3A%2F%2F__token__%3Atufpi-...%40127.0.0.1...``.
Now the credentials are split off the URL at once and ride only in httpx's Authorization
header; the cache directory is named for the URL without them
(``test_the_cache_is_named_for_the_url_without_credentials`` pins that down). ``tufpi
import`` from a URL with credentials printed it too (``import of http://__token__:...``).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.proxy import proxy
from tests.support.server import IndexServer, start
from tests.support.waiting import wait_until

CONFORMANCE = str(Path(sys.executable).parent / "tufpi-conformance-client")
PROJECT = "secret-proj"


def _forms(token: str) -> dict[str, str]:
    """The token and what would betray it: its random part's halves, the Basic header."""
    random_part = token.removeprefix("tufpi-")
    half = len(random_part) // 2
    basic = base64.b64encode(f"__token__:{token}".encode()).decode()
    return {
        "token": token,
        "first half": random_part[:half],
        "second half": random_part[half:],
        "basic auth header": basic,
    }


def _with_credentials(url: str, token: str) -> str:
    return url.replace("http://", f"http://__token__:{token}@", 1)


@contextlib.contextmanager
def _private_index(data_dir: Path, database_url: str | None) -> Iterator[IndexServer]:
    server = start(data_dir, database_url, private="1")
    try:
        yield server
    finally:
        server.stop()


def _wait_for_page(simple: str, project: str, timeout: float = 30) -> None:
    """Until the proxy serves the project's verified page (its publication reached it)."""
    wait_until(
        lambda: httpx.get(f"{simple}{project}/", timeout=10).status_code == 200,
        f"{project} never reached the proxy",
        timeout=timeout,
        interval=0.2,
    )


@dataclasses.dataclass(frozen=True)
class Paths:
    work: Path
    cache: Path
    logs: Path


class Outputs:
    """Everything every process of the flow wrote, by name."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, name: str, result: subprocess.CompletedProcess[str]) -> None:
        self.texts[f"{name} (stdout)"] = result.stdout
        self.texts[f"{name} (stderr)"] = result.stderr


def _tokens(server: IndexServer, outputs: Outputs) -> dict[str, str]:
    """The CLI: a user, a token (its one intended print), a spare one revoked by secret."""
    outputs.add("tufpi user add", server.cli("user", "add", "alice", "--no-password"))
    created = server.cli("token", "create", "--user", "alice")
    token = created.stdout.strip()
    assert created.stdout == token + "\n"  # printed once, alone: the one intended print
    outputs.texts["tufpi token create (stderr)"] = created.stderr
    spare_created = server.cli("token", "create", "--user", "alice", "--description", "spare")
    spare = spare_created.stdout.strip()
    outputs.texts["tufpi token create spare (stderr)"] = spare_created.stderr
    outputs.add("tufpi token list", server.cli("token", "list"))
    outputs.add("tufpi token revoke", server.cli("token", "revoke", spare))
    wrong = "tufpi-" + secrets.token_urlsafe(32)
    return {"token": token, "revoked token": spare, "wrong token": wrong}


def _uploads(server: IndexServer, work: Path, used: dict[str, str], outputs: Outputs) -> None:
    dists = make_dists(work, PROJECT, "1.0")
    upload = clients.twine_upload(server.url, used["token"], dists)
    outputs.add("twine upload", upload)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    for name in ("wrong token", "revoked token"):
        refused = clients.twine_upload(server.url, used[name], dists)
        outputs.add(f"twine upload, {name}", refused)
        assert refused.returncode != 0
        assert "Invalid or revoked API token" in refused.stdout + refused.stderr
    plain = clients.pip_install(server.simple, work / "plain", PROJECT)
    outputs.add("pip without a token", plain)
    assert plain.returncode != 0  # a private index: reads need a token too


def _proxies(
    server: IndexServer, paths: Paths, trust: list[str], token: str, outputs: Outputs
) -> None:
    """pip through a proxy given the token in the URL, uv through one given it in the
    environment."""
    userinfo = _with_credentials(server.url, token)
    log = paths.logs / "proxy-userinfo.log"
    with proxy(userinfo, paths.cache, *trust, log=log) as simple:
        _wait_for_page(simple, PROJECT)
        via = clients.pip_install(simple, paths.work / "via-proxy", PROJECT)
        outputs.add("pip through the proxy", via)
        assert via.returncode == 0, via.stdout + via.stderr
    log = paths.logs / "proxy-env.log"
    with proxy(server.url, paths.cache, *trust, log=log, TUFPI_INDEX_TOKEN=token) as simple:
        via_env = clients.uv_pip_install(simple, paths.work / "via-proxy-env", PROJECT)
        outputs.add("uv through the proxy (token from the environment)", via_env)
        assert via_env.returncode == 0, via_env.stdout + via_env.stderr


def _installs(
    server: IndexServer, paths: Paths, trust: list[str], used: dict[str, str], outputs: Outputs
) -> None:
    """``tufpi install`` with the token, with a wrong and a revoked one; a proxy refused."""
    install = [
        sys.executable,
        "-m",
        "tufpi.cli",
        "install",
        "--python",
        sys.executable,
        "--index",
        server.url,
        *trust,
    ]
    install += ["--cache-dir", str(paths.cache), "--"]
    install += ["--target", str(paths.work / "installed"), PROJECT]
    done = clients.run(install, TUFPI_INDEX_TOKEN=used["token"])
    outputs.add("tufpi install", done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any((paths.work / "installed").glob("secret_proj-1.0.dist-info"))
    for name in ("wrong token", "revoked token"):
        refused = clients.run(install, TUFPI_INDEX_TOKEN=used[name])
        outputs.add(f"tufpi install, {name}", refused)
        assert refused.returncode != 0
        assert "refused" in refused.stderr
        assert "401" in refused.stderr
    wrong_url = _with_credentials(server.url, used["wrong token"])
    command = [sys.executable, "-m", "tufpi.cli", "proxy", "--index", wrong_url, *trust]
    refused = clients.run([*command, "--cache-dir", str(paths.cache)])
    outputs.add("tufpi proxy, wrong token in the URL", refused)
    assert refused.returncode != 0
    assert "401" in refused.stderr


def _import(server: IndexServer, paths: Paths, token: str, outputs: Outputs) -> None:
    """``tufpi import`` reading the private index's simple API, the token in its URL (here
    the index itself: everything is already there, and skipped by its sha256)."""
    source = _with_credentials(server.url, token) + "simple/"
    report = paths.logs / "import-report.json"
    result = server.cli("import", "--no-publish", "--report", str(report), source)
    outputs.add("tufpi import", result)
    assert json.loads(report.read_text())["source"] == server.url + "simple/"


def _conformance(server: IndexServer, paths: Paths, used: dict[str, str], outputs: Outputs) -> None:
    """The conformance client, given credentials in its metadata URL."""
    root = server.data_dir / "files" / "tuf" / "1.root.json"
    for name, token, expected in (
        ("", used["token"], 0),
        (", wrong token", used["wrong token"], 1),
    ):
        metadata = paths.work / f"conformance{name}"
        init = clients.run([CONFORMANCE, "--metadata-dir", str(metadata), "init", str(root)])
        outputs.add(f"conformance init{name}", init)
        url = _with_credentials(server.url, token) + "tuf/"
        command = [CONFORMANCE, "--metadata-dir", str(metadata), "--metadata-url", url, "refresh"]
        refresh = clients.run(command)
        outputs.add(f"conformance refresh{name}", refresh)
        assert refresh.returncode == expected, refresh.stderr


def _unwrapped(output: str) -> str:
    """``output`` and, after it, the same without whitespace and box-drawing characters: a
    URL that rich wrapped inside a table cell is whole again."""
    return output + "\n" + re.sub(r"[\s\u2500-\u257f]", "", output)


def _paths_and_files(*roots: Path) -> tuple[list[str], dict[str, bytes]]:
    paths: list[str] = []
    files: dict[str, bytes] = {}
    for root in roots:
        for path in root.rglob("*"):
            paths.append(str(path))
            if path.is_file():
                files[str(path)] = path.read_bytes()
    return paths, files


def test_no_token_in_any_output_path_or_file(own_database_url: str | None, tmp_path: Path) -> None:
    data = tmp_path / "data"
    paths = Paths(tmp_path / "work", tmp_path / "cache", tmp_path / "logs")
    paths.work.mkdir()
    paths.logs.mkdir()
    outputs = Outputs()
    with _private_index(data, own_database_url) as server:
        used = _tokens(server, outputs)
        _uploads(server, paths.work, used, outputs)
        root = (server.data_dir / "files" / "tuf" / "1.root.json").read_bytes()
        trust = ["--root-sha256", hashlib.sha256(root).hexdigest()]
        _proxies(server, paths, trust, used["token"], outputs)
        _installs(server, paths, trust, used, outputs)
        _conformance(server, paths, used, outputs)
        _import(server, paths, used["token"], outputs)
    for log in (data / "serve.log", *paths.logs.glob("*.log")):
        outputs.texts[log.name] = log.read_text()

    # What was searched holds what it should: the refused reads and uploads, each request
    # the proxy made (by httpx, at INFO), the installers' work.
    assert " 401" in outputs.texts["serve.log"]
    assert "POST /legacy/" in outputs.texts["serve.log"]
    assert f"HTTP Request: GET {server.url}tuf/" in outputs.texts["proxy-userinfo.log"]
    assert "Successfully installed secret-proj-1.0" in outputs.texts["tufpi install (stdout)"]

    names, files = _paths_and_files(data, paths.cache, paths.logs, paths.work)
    assert len(files) > 50
    leaks = [
        f"{secret} ({form}) in {where}"
        for secret, token in used.items()
        for form, text in _forms(token).items()
        for where in (
            *(name for name, output in outputs.texts.items() if text in _unwrapped(output)),
            *(name for name in names if text in name),
            *(path for path, content in files.items() if text.encode() in content),
        )
    ]
    assert leaks == []


def test_the_cache_is_named_for_the_url_without_credentials(
    index_server: IndexServer, tmp_path: Path
) -> None:
    """Before: ``cache_dir_for`` quoted the URL as given, so the token named a directory."""
    token = "tufpi-" + secrets.token_urlsafe(32)
    legacy = tmp_path / "cache" / quote(_with_credentials(index_server.url, token).rstrip("/"), "")
    legacy.mkdir(parents=True)  # what the proxy left behind before
    root = index_server.data_dir / "files" / "tuf" / "1.root.json"
    with proxy(
        _with_credentials(index_server.url, token),
        tmp_path / "cache",
        "--root",
        str(root),
        log=tmp_path / "proxy.log",
    ):
        pass
    assert token in legacy.name
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        quote(index_server.url.rstrip("/"), "")
    ]
