"""A PEP 691 project page shaped like PyPI's (api-version 1.3: PEP 700 sizes, times and
versions, PEP 714 core-metadata with PyPI's older key beside it, PEP 592 yanks, PEP 740
provenance), written from the PEPs for the tests: no network."""

from __future__ import annotations

import json
from typing import Any

FILES = "https://files.pythonhosted.org/packages/0a/1b/2c"
SHA_WHL = "a" * 64
SHA_SDIST = "b" * 64
SHA_META = "c" * 64


def pypi_page(name: str = "Demo.Project", **extra: Any) -> dict[str, Any]:
    """The page, as a dict (``extra`` replaces top-level keys)."""
    page: dict[str, Any] = {
        "meta": {"_last-serial": 24680, "api-version": "1.3"},
        "name": name,
        "versions": ["1.0", "2.0"],
        "files": [
            {
                "filename": "demo_project-1.0-py3-none-any.whl",
                "url": f"{FILES}/demo_project-1.0-py3-none-any.whl",
                "hashes": {"sha256": SHA_WHL},
                "requires-python": ">=3.8",
                "core-metadata": {"sha256": SHA_META},
                "data-dist-info-metadata": {"sha256": SHA_META},
                "size": 1234,
                "upload-time": "2024-02-03T04:05:06.789012Z",
                "yanked": False,
                "provenance": "https://pypi.org/integrity/demo-project/1.0/"
                "demo_project-1.0-py3-none-any.whl/provenance",
            },
            {
                "filename": "demo_project-2.0.tar.gz",
                "url": "../../packages/demo_project-2.0.tar.gz#sha256=" + SHA_SDIST,
                "hashes": {"sha256": SHA_SDIST, "blake2b_256": "d" * 64},
                "requires-python": None,
                "core-metadata": False,
                "size": 99,
                "upload-time": "2024-03-04T05:06:07Z",
                "yanked": "broken build",
                "provenance": None,
            },
        ],
    }
    page.update(extra)
    return page


def pypi_json(name: str = "Demo.Project", **extra: Any) -> str:
    return json.dumps(pypi_page(name, **extra))
