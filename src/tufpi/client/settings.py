"""A project's client settings: ``[tool.tufpi]`` of the nearest ``pyproject.toml``.

Found as uv finds ``[tool.uv]``: from the current directory upward to the filesystem root,
the first ``pyproject.toml`` that has a ``[tool.tufpi]`` table (a workspace member without
one takes its workspace's). The file is named to the user whenever a setting comes from it.

    [tool.tufpi]
    index = "https://pypi.example.org/"
    root-sha256 = "9c1d..."

``pyproject.toml`` is shared (committed, read by everyone who checks the project out), so a
credential in it is refused: the token goes in ``TUFPI_INDEX_TOKEN``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["KEYS", "ProjectSettings", "SettingsError", "find_project_settings"]

KEYS = ("index", "root-sha256")


class SettingsError(ValueError):
    """A ``pyproject.toml`` that cannot be used (the message names it, never a secret)."""


@dataclasses.dataclass(frozen=True)
class ProjectSettings:
    """What ``[tool.tufpi]`` says, and in which file (``path`` None: no such table)."""

    path: Path | None = None
    index: str | None = None
    root_sha256: str | None = None


def _table(path: Path) -> dict[str, object] | None:
    """``[tool.tufpi]`` of ``path``; None if it has none."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path}: {e}") from e
    except OSError as e:
        raise SettingsError(f"{path}: cannot be read: {e.strerror}") from e
    tool = document.get("tool")
    table = tool.get("tufpi") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [tool.tufpi] is not a table")
    return table


def _settings(path: Path, table: dict[str, object]) -> ProjectSettings:
    values: dict[str, str] = {}
    for key in KEYS:
        value = table.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SettingsError(f"{path}: [tool.tufpi] {key} must be a string")
        values[key] = value
    index = values.get("index")
    if index is not None and urlsplit(index.strip()).username is not None:
        raise SettingsError(
            f"{path}: [tool.tufpi] index holds credentials: give the token in "
            "TUFPI_INDEX_TOKEN instead"
        )
    return ProjectSettings(path, index, values.get("root-sha256"))


def find_project_settings(start: Path) -> ProjectSettings:
    """``[tool.tufpi]`` of the nearest ``pyproject.toml`` that has one, from ``start``
    upward to the filesystem root; empty settings if none has.

    Raises:
        SettingsError: a ``pyproject.toml`` on the way is not valid TOML, or its
            ``[tool.tufpi]`` is unusable.
    """
    start = start.absolute()
    for directory in (start, *start.parents):
        path = directory / "pyproject.toml"
        if not path.is_file():
            continue
        table = _table(path)
        if table is not None:
            return _settings(path, table)
    return ProjectSettings()
