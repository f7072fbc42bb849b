"""The proxy serves the index under a path that names it, as well as under ``/simple/``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tufpi.client.launch import index_prefix
from tufpi.client.proxy import create_proxy_app


@pytest.mark.parametrize(
    ("index_url", "prefix"),
    [
        ("https://pypi.example.org/", "/pypi.example.org"),
        ("http://127.0.0.1:8080/", "/127.0.0.1:8080"),
        ("https://example.org/org/pypi/", "/example.org/org/pypi"),
    ],
)
def test_the_prefix_names_the_index(index_url: str, prefix: str) -> None:
    assert index_prefix(index_url) == prefix


def _get(app: Any, path: str) -> httpx.Response:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path)

    return asyncio.run(ask())


def test_redirects_stay_under_the_prefix_they_came_by() -> None:
    index: Any = SimpleNamespace(index_url="https://pypi.example.org/")
    app = create_proxy_app(index)
    for base in ("", "/pypi.example.org"):
        answer = _get(app, f"{base}/simple/Some_Project")
        assert answer.status_code == 301
        assert answer.headers["location"].endswith(f"{base}/simple/some-project/")
        assert _get(app, f"{base}/simple/").status_code == 200
