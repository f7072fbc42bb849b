"""What makes two releases or two distributions the same, and which uploads collide (pure).

A release is its canonical version (``packaging.utils.canonicalize_version``: ``1.0``,
``1.0.0`` and ``1.00`` are one release, as pip treats them). A distribution is its
normalised filename: for a wheel, the normalised project name, canonical version, build tag
and set of compatibility tags; for an sdist, the normalised name and canonical version alone
(one sdist per release, whatever its spelling or suffix). A normalised filename, once used,
is never accepted again with any bytes, in any project, even after the file, its release or
its project is removed (like PyPI's file registry).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from packaging.utils import canonicalize_version
from packaging.version import Version

from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename, parse_dist_filename


def release_key(version: Version) -> str:
    """The identity of a release: the canonical form of its version (trailing zeros
    stripped), stored as ``releases.canonical_version``."""
    return canonicalize_version(version, strip_trailing_zero=True)


def _wheel_tags(dist: DistFilename) -> str:
    # A wheel filename's tag set is the product of its three dotted parts, so the sorted
    # parts written back name the same set, whatever their order or case in the filename.
    parts = (
        sorted({t.interpreter for t in dist.tags}),
        sorted({t.abi for t in dist.tags}),
        sorted({t.platform for t in dist.tags}),
    )
    return "-".join(".".join(p) for p in parts)


def normalized_filename(dist: DistFilename) -> str:
    """The normal form of a distribution's filename: equal for two files exactly when they
    are the same distribution of the same release.

    Wheels: ``name-version[-build]-py-abi-platform.whl``, sorted tags; sdists:
    ``name-version.tar.gz`` whatever their suffix (a release has one sdist).
    """
    stem = f"{dist.name.replace('-', '_')}-{release_key(dist.version)}"
    if dist.packagetype != "bdist_wheel":
        return f"{stem}.tar.gz"
    build = f"-{dist.build[0]}{dist.build[1]}" if dist.build else ""
    return f"{stem}{build}-{_wheel_tags(dist)}.whl"


def normalize_filename(filename: str) -> str:
    """``normalized_filename`` of a filename.

    Raises:
        InvalidUpload: not a valid wheel or sdist filename.
    """
    return normalized_filename(parse_dist_filename(filename))


@dataclasses.dataclass(frozen=True)
class UsedFilename:
    """A filename the index accepted once, and the file it names now, if any.

    Attributes:
        filename: as uploaded.
        normalized: its ``normalized_filename``.
        sha256: of the file still in the index under ``filename``; None once removed.
    """

    filename: str
    normalized: str
    sha256: str | None


def _refusal(dist: DistFilename, used: UsedFilename) -> str:
    gone = "" if used.sha256 is not None else ", since removed"
    if used.filename == dist.filename and used.sha256 is not None:
        return (
            f"File already exists ({dist.filename!r}) with different content; a filename "
            "can be used only once. Upload a new version instead."
        )
    if used.filename == dist.filename:
        return (
            f"Filename {dist.filename!r} was used before (by a file since removed); a "
            "filename can be used only once, whatever its content. Upload a new version instead."
        )
    if dist.packagetype != "bdist_wheel":
        return (
            f"Release {dist.version} of {dist.name} already has an sdist "
            f"({used.filename!r}{gone}); a release has one sdist, never replaced."
        )
    return (
        f"{dist.filename!r} is the same wheel as {used.filename!r}{gone} (same project, "
        "version, build tag and tags); a wheel can be uploaded only once. "
        "Upload a new version instead."
    )


def check_unused(dist: DistFilename, sha256: str, used: Sequence[UsedFilename]) -> bool:
    """Whether ``dist`` (content ``sha256``) may be recorded, given the filenames ever used
    with its normal form.

    Returns:
        False: new, record it. True: this very file (same filename, same bytes) is still in
        the index, and nothing is to change (what ``twine --skip-existing`` relies on).

    Raises:
        InvalidUpload: the normalised filename was used, by other bytes, by another
            spelling, or by a file since removed.
    """
    normal = normalized_filename(dist)
    clashes = [u for u in used if u.normalized == normal]
    if not clashes:
        return False
    # A filename is recorded once (unique), so ``same`` holds at most one entry. An identical
    # file still present is a no-op even beside twins recorded before these rules.
    same = [u for u in clashes if u.filename == dist.filename]
    if same and same[0].sha256 == sha256:
        return True
    raise InvalidUpload(_refusal(dist, (same or clashes)[0]))
