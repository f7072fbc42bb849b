"""Lazy exports for a package's ``__init__`` (PEP 562): each exported name is imported from
its module on first use, so that importing one light module of a package does not import the
package's heavy ones with it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, homes: Mapping[str, str], exported: Sequence[str]
) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: a name of ``homes`` (name -> module) from
    its module, or an ``exported`` module itself, imported now."""

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is not None:
            return getattr(importlib.import_module(f"{package}.{home}"), name)
        if name in exported:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return attribute
