"""``tufpi.index`` imports its exported names on first use, so that an inspection worker
(``spawn`` starts it afresh, and it reads archives only) does not import the database layer."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tufpi.index


@pytest.mark.parametrize("name", tufpi.index.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(tufpi.index, name)
    module = getattr(value, "__module__", None) or value.__name__
    assert module.startswith("tufpi.index."), (name, module)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        _ = tufpi.index.Nonesuch  # type: ignore[attr-defined]


def test_an_inspection_worker_does_not_import_the_database_layer() -> None:
    """What a worker imports to unpickle its task: ``tufpi.index.inspector``."""
    probe = (
        "import sys, tufpi.index.inspector; "
        "print(sorted(m for m in ('sqlalchemy', 'tufpi.db', 'tufpi.index.service') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
