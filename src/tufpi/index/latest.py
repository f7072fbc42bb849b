"""Which release a project's page shows first, as PyPI picks it (pure).

The newest release that is neither yanked nor a pre-release; if there is none, the newest
not yanked; if every release is yanked, the newest. A version packaging cannot parse (a
mirrored project may carry one) ranks below every valid one.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

_NONE = Version("0")


def _rank(version: str, yanked: bool) -> tuple[bool, bool, bool, Version]:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return (not yanked, False, False, _NONE)
    return (not yanked, not parsed.is_prerelease, True, parsed)


def latest_version(releases: Iterable[tuple[str, bool]]) -> str | None:
    """The version to show of ``releases`` (each ``(version, yanked)``); None if none."""
    best: tuple[tuple[bool, bool, bool, Version], str] | None = None
    for version, yanked in releases:
        ranked = (_rank(version, yanked), version)
        if best is None or ranked[0] > best[0]:
            best = ranked
    return None if best is None else best[1]
