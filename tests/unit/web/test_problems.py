"""One exception handler (``create_app``'s, ``context.answer_problem``) answers every refusal
(``IndexProblem``) a route raises, exactly as ``context.problem`` words it: status, body, the
reason header (the status line's reason phrase, once ``tufpi.http``'s protocol moves it
there) and the headers of its kind (``WWW-Authenticate``, ``Retry-After``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tufpi.config import Settings
from tufpi.http import REASON_HEADER
from tufpi.index.errors import Busy, NotAuthenticated
from tufpi.services import Services
from tufpi.web import create_app
from tufpi.web.context import problem

PAGE = "0" * 64 + ".index.html"
# Every route that checks the reader, on a private index, asked without credentials.
READS = [
    ("GET", "/simple/"),
    ("GET", "/simple/demo/"),
    ("GET", f"/simple/demo/{PAGE}"),
    ("GET", "/pypi/demo/json"),
    ("GET", "/pypi/demo/1.0/json"),
    ("GET", "/packages/aa/bb/demo-1.0.tar.gz"),
    ("HEAD", "/packages/aa/bb/demo-1.0.tar.gz"),
    ("GET", "/tuf/timestamp.json"),
    ("GET", "/metrics"),
    ("POST", "/legacy/"),
]


async def _busy(_request: Request) -> Response:
    raise Busy("Too many uploads are being inspected; retry in a moment.", retry_after=7)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Starlette]:
    """The index's app on a private index (no lifespan: no signer, no inspector, and the
    requests below reach no database), with one more route that raises ``Busy``."""
    services = Services.from_settings(Settings(data_dir=tmp_path, private=True))
    app = create_app(services)
    app.router.routes.append(Route("/busy", _busy))
    try:
        yield app
    finally:
        services.engine.dispose()


def _ask(app: Starlette, method: str, path: str) -> httpx.Response:
    """``app``'s answer to one request, through httpx's ASGI transport (an exception the app
    does not answer is raised here)."""

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://index") as client:
            return await client.request(method, path)

    return asyncio.run(ask())


def _expected(response: Response) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in response.raw_headers}


@pytest.mark.parametrize(("method", "path"), READS)
def test_a_reader_without_credentials_gets_the_401_problem_answer(
    app: Starlette, method: str, path: str
) -> None:
    answer = _ask(app, method, path)
    message = "Authentication required: use __token__ and an API token."
    expected = problem(NotAuthenticated(message))
    assert answer.status_code == 401
    if method != "HEAD":
        assert answer.content == expected.body == f"{message}\n".encode()
    assert answer.headers[REASON_HEADER] == message
    assert answer.headers["www-authenticate"] == 'Basic realm="tufpi"'
    assert {k: answer.headers.get(k) for k in _expected(expected)} == _expected(expected)


def test_a_refusal_raised_in_a_route_becomes_its_problem_answer(app: Starlette) -> None:
    answer = _ask(app, "GET", "/busy")
    expected = problem(Busy("Too many uploads are being inspected; retry in a moment.", 7))
    assert answer.status_code == 503
    assert answer.content == expected.body
    assert dict(answer.headers) == _expected(expected)
    assert answer.headers["retry-after"] == "7"
    assert answer.headers[REASON_HEADER].startswith("Too many uploads")
