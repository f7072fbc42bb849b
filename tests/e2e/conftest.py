"""Fixtures shared by the browser tests (``test_browser_*.py``): one Chromium per module, and
the module's screenshot directory (``$TUFPI_SCREENSHOTS/<flows|pages|injection>``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser as web


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module's tests (each opens its own context)."""
    with web.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's screenshots go: a directory named for it (``test_browser_flows``:
    ``flows``)."""
    group = request.module.__name__.rpartition(".")[2].removeprefix("test_browser_")
    return web.screenshots_dir(tmp_path_factory.mktemp("screenshots"), group)
