"""The verifying proxy as the installer's only HTTP proxy (tufpi.client.forward)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import PlainTextResponse, Response

from tufpi.client import installers
from tufpi.client.forward import OnlyThisOrigin, installer_proxy_env, origin_of
from tufpi.client.refusals import Refusal

PROXY = "http://127.0.0.1:8765/"


def test_origin_of_the_simple_url() -> None:
    assert origin_of("http://127.0.0.1:8765/simple/") == PROXY


def test_the_installer_reaches_every_host_through_the_proxy_only() -> None:
    env = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "*", "https_proxy": "http://corp:3128"}
    out = installer_proxy_env(env, PROXY)
    assert "NO_PROXY" not in out
    assert "no_proxy" not in out
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        assert out[name] == out[name.lower()] == PROXY


def test_tufpi_install_gives_pip_the_proxy(monkeypatch: Any) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    command = installers.installer_command("pip", PROXY + "simple/", ["demo"])
    assert command[command.index("--proxy") + 1] == PROXY
    env = installers.installer_env(proxy_url=PROXY)
    assert "no_proxy" not in env
    assert env["HTTPS_PROXY"] == PROXY


def _scope(method: str, raw_path: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 8765),
    }


def _call(method: str, raw_path: bytes) -> tuple[int, bytes, list[dict[str, Any]]]:
    """The status and body of the guarded app's answer, and the scopes it passed on."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))
        await PlainTextResponse("served")(scope, receive, send)

    def refuse(error: Refusal) -> Response:
        return PlainTextResponse(error.message, status_code=error.status)

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(OnlyThisOrigin(app, refuse)(_scope(method, raw_path), receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, seen


def test_an_origin_form_request_is_served_unchanged() -> None:
    status, body, seen = _call("GET", b"/simple/demo/")
    assert (status, body) == (200, b"served")
    assert seen[0]["path"] == "/simple/demo/"


def test_an_absolute_form_request_for_this_proxy_is_served_as_its_path() -> None:
    status, body, seen = _call("GET", b"http://127.0.0.1:8765/packages/a%20b/x.whl")
    assert (status, body) == (200, b"served")
    assert seen[0]["raw_path"] == b"/packages/a%20b/x.whl"
    assert seen[0]["path"] == "/packages/a b/x.whl"


def test_localhost_names_this_proxy_on_a_loopback_address() -> None:
    status, body, seen = _call("GET", b"http://LOCALHOST:8765/simple/")
    assert (status, body) == (200, b"served")
    assert seen[0]["path"] == "/simple/"


def test_another_origin_is_refused_naming_it() -> None:
    for target in (
        b"http://localhost:9999/payload.whl",
        b"http://127.0.0.1/payload.whl",  # port 80
        b"http://127.0.0.1:notaport/x",
        b"http://user@127.0.0.1:8765/simple/",
        b"http://127.0.0.1:9999/payload.whl",  # another port of the same host
        b"http://evil.example/payload.whl",
        b"https://127.0.0.1:8765/simple/",  # another scheme
        b"http://127.0.0.1:8765@evil.example/x",  # userinfo trick: the host is evil.example
    ):
        status, body, seen = _call("GET", target)
        assert status == 403, target
        assert f"the installer asked for {target.decode()!r}".encode() in body
        assert b"another host than this verifying proxy" in body
        assert seen == []


def test_connect_is_refused() -> None:
    status, body, seen = _call("CONNECT", b"evil.example:443")
    assert status == 403
    assert b"the installer asked for 'CONNECT evil.example:443'" in body
    assert seen == []
