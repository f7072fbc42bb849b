"""Project names, versions and distribution filenames: pure checks built on ``packaging``."""

from __future__ import annotations

import dataclasses
import re

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from tufpi.index.errors import InvalidRequest, InvalidUpload

# PEP 508 / core metadata "Name": ASCII letters, digits, and . _ - inside. Used with
# fullmatch ('$' would also match before a trailing newline) and re.ASCII (otherwise
# IGNORECASE lets [A-Z] match U+212A KELVIN SIGN and U+017F LONG S).
_PROJECT_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
# Every character a wheel or sdist filename may legitimately contain. Anything else, such as a
# separator, NUL, a control character or a Unicode look-alike of '/', is refused outright.
_FILENAME_CHARS = re.compile(r"[A-Za-z0-9._+!-]+", re.ASCII)
_MAX_FILENAME = 255
# The widths of projects.name and releases.version (tufpi.db.models): longer values would be
# cut or refused by the database after the file was stored.
MAX_PROJECT_NAME = 200
MAX_VERSION = 100

SDIST_SUFFIXES = (".tar.gz", ".zip")
PACKAGETYPES = {"sdist", "bdist_wheel"}


# Account names as PyPI allows them: ASCII letters, digits, '.', '_' and '-', beginning and
# ending with a letter or digit. They are shown on pages and written in both logs, so no
# markup, space, control or look-alike character can be part of one.
_ACCOUNT_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
MAX_ACCOUNT_NAME = 50
# The account the journal and the transparency log name for the administrator's own
# commands on the server: no user may take it (``journal.SERVER_ACCOUNT``).
RESERVED_ACCOUNT_NAMES = frozenset({"admin"})


def check_account_name(name: str) -> None:
    """An account name tufpi accepts for a new user.

    Raises:
        InvalidRequest: with a message naming what is wrong.
    """
    if len(name) > MAX_ACCOUNT_NAME:
        raise InvalidRequest(f"An account name is at most {MAX_ACCOUNT_NAME} characters.")
    if _ACCOUNT_NAME.fullmatch(name) is None:
        raise InvalidRequest(
            f"Invalid account name {name!r}: use ASCII letters, digits, '.', '_' and '-', "
            "beginning and ending with a letter or digit."
        )
    if name.lower() in RESERVED_ACCOUNT_NAMES:
        raise InvalidRequest(
            f"The account name {name!r} is reserved: the logs name the administrator's "
            "commands on the server with it."
        )


def normalize(name: str) -> NormalizedName:
    """PEP 503 normalised form of a project name."""
    return canonicalize_name(name)


def is_valid_project_name(name: str) -> bool:
    """Whether ``name`` is a valid project name per the core metadata specification."""
    return _PROJECT_NAME.fullmatch(name) is not None


def check_project_name(name: str) -> None:
    """A project name tufpi accepts: valid and no longer than ``MAX_PROJECT_NAME``.

    Raises:
        InvalidUpload: with a message naming what is wrong.
    """
    if len(name) > MAX_PROJECT_NAME:
        raise InvalidUpload(f"Project name is longer than {MAX_PROJECT_NAME} characters.")
    if not is_valid_project_name(name):
        raise InvalidUpload(
            f"Invalid project name {name!r}: use ASCII letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit."
        )


def parse_version(text: str) -> Version:
    """Parse a public PEP 440 version of at most ``MAX_VERSION`` characters (normalised).

    Raises:
        InvalidUpload: not a PEP 440 version, a local version, or too long.
    """
    if len(text) > MAX_VERSION:
        raise InvalidUpload(f"Version is longer than {MAX_VERSION} characters.")
    try:
        version = Version(text)
    except InvalidVersion as e:
        raise InvalidUpload(f"Invalid version {text!r}: not a PEP 440 version.") from e
    # Normalising can lengthen a version ("1a" becomes "1a0"); the normal form is stored.
    if len(str(version)) > MAX_VERSION:
        raise InvalidUpload(f"Version is longer than {MAX_VERSION} characters.")
    check_public_version(version)
    return version


def check_public_version(version: Version) -> None:
    """Refuse a local version (PEP 440 ``1.0+hotfix``), as PyPI does: ``==1.0`` matches it, so
    it could stand in for the published 1.0 in any installer's choice.

    Raises:
        InvalidUpload: ``version`` has a local segment.
    """
    if version.local is not None:
        raise InvalidUpload(
            f"Invalid version {version}: local versions ('+{version.local}') are not "
            "accepted by this index (nor by PyPI); upload a public version."
        )


@dataclasses.dataclass(frozen=True)
class DistFilename:
    """What a distribution's filename says about it."""

    filename: str
    name: NormalizedName
    version: Version
    packagetype: str
    # Wheels only: the build tag (``()`` without one) and the set of compatibility tags.
    build: BuildTag = ()
    tags: frozenset[Tag] = frozenset()


def check_filename_safe(filename: str) -> None:
    """Refuse filenames that could escape a directory or fool a reader.

    Raises:
        InvalidUpload: with a message naming what is wrong.
    """
    if not filename:
        raise InvalidUpload("Missing filename.")
    if len(filename) > _MAX_FILENAME:
        raise InvalidUpload(f"Filename is longer than {_MAX_FILENAME} characters.")
    if "\x00" in filename:
        raise InvalidUpload("Invalid filename: contains a NUL byte.")
    if "/" in filename or "\\" in filename:
        raise InvalidUpload(f"Invalid filename {filename!r}: path separators are not allowed.")
    if filename.startswith("."):
        raise InvalidUpload(f"Invalid filename {filename!r}: may not start with '.'.")
    if _FILENAME_CHARS.fullmatch(filename) is None:
        bad = sorted({c for c in filename if _FILENAME_CHARS.fullmatch(c) is None})
        shown = ", ".join(f"U+{ord(c):04X}" for c in bad)
        raise InvalidUpload(
            f"Invalid filename {filename!r}: characters not allowed in a distribution "
            f"filename ({shown})."
        )


def parse_dist_filename(filename: str) -> DistFilename:
    """Parse a wheel or sdist filename.

    Raises:
        InvalidUpload: unsafe, unknown extension or unparseable filename.
    """
    check_filename_safe(filename)
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return DistFilename(filename, name, version, "bdist_wheel", build, tags)
        if filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return DistFilename(filename, name, version, "sdist")
    except (InvalidWheelFilename, InvalidSdistFilename) as e:
        raise InvalidUpload(f"Invalid distribution filename {filename!r}: {e}") from e
    raise InvalidUpload(
        f"Invalid file extension in {filename!r}: use .whl for wheels and .tar.gz for sdists."
    )


def check_filename_matches(dist: DistFilename, name: str, version: Version) -> None:
    """The filename must be for the project and version the form declares.

    Raises:
        InvalidUpload: when they disagree.
    """
    if dist.name != normalize(name):
        raise InvalidUpload(
            f"Filename {dist.filename!r} is for project {dist.name!r}, "
            f"but the upload is for {normalize(name)!r}."
        )
    if canonicalize_version(dist.version) != canonicalize_version(version):
        raise InvalidUpload(
            f"Filename {dist.filename!r} is for version {dist.version}, "
            f"but the upload is for version {version}."
        )
