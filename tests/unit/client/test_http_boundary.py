"""Nothing in the client reads the network except through the bounded fetcher.

Every byte the verifying client reads must be under one deadline and one size cap, with
decompression bounded by the cap: that is ``tufpi.client.fetcher``. A module of the client
that imported an HTTP or socket library could read around it (as the unsigned page, the PEP
658 file and the pinned first root once did), so this scans the source of every module under
``src/tufpi/client/`` (its syntax tree: imports anywhere, ``importlib.import_module`` and
``__import__`` with a literal name) and fails for any import of such a library outside
``fetcher.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tufpi

CLIENT = Path(tufpi.__file__).parent / "client"
ALLOWED = {"fetcher.py"}
# Libraries that open connections or speak HTTP, by top-level name or dotted prefix (event
# loops are not listed: a server loop is no client read).
NETWORK = (
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "requests",
    "urllib3",
    "urllib.request",
    "http.client",
    "socket",
    "aiohttp",
    "pycurl",
    "websockets",
    "tornado",
    "twisted",
    "pip._vendor",
)


def _is_network(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in NETWORK)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module name imported in ``tree``, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.append((node.lineno, str(first.value)))
    return found


def network_imports(path: Path) -> list[str]:
    """``path:line: name`` for each network import in the module at ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    return [f"{path.name}:{line}: {name}" for line, name in _imports(tree) if _is_network(name)]


MODULES = sorted(p for p in CLIENT.rglob("*.py") if p.name not in ALLOWED)


@pytest.mark.parametrize("module", MODULES, ids=[p.name for p in MODULES])
def test_only_the_fetcher_imports_a_network_library(module: Path) -> None:
    assert network_imports(module) == [], (
        "read the network through tufpi.client.fetcher (BoundedFetcher.get, http_client, "
        "HttpClient, OriginAuth), not directly"
    )


def test_the_scan_sees_every_way_of_importing(tmp_path: Path) -> None:
    """The scan would catch each form of import (a scan that never fires proves nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import httpx\n"
        "import urllib.request as r\n"
        "from http import client\n"
        "from http.client import HTTPConnection\n"
        "def f():\n"
        "    import socket\n"
        "    import importlib\n"
        "    importlib.import_module('requests')\n"
        "    __import__('h11')\n"
        "from urllib.parse import quote\n"
    )
    found = network_imports(sample)
    assert sorted(f.split(": ", 1)[1] for f in found) == sorted(
        [
            "httpx",
            "urllib.request",
            "http.client",
            "http.client",
            "http.client.HTTPConnection",
            "socket",
            "requests",
            "h11",
        ]
    )


def test_the_fetcher_is_the_one_that_may() -> None:
    assert network_imports(CLIENT / "fetcher.py") != []
    assert (CLIENT / "fetcher.py") not in MODULES
