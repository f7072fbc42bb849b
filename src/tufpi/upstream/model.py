"""What tufpi reads from an upstream simple index (pure data: no I/O).

An upstream's project page becomes one ``UpstreamProject``: the files it lists that tufpi may
mirror (each a distribution of this very project, with the sha256 it will be checked
against), and the links it left out, each with the reason. Everything here has been checked
already (``tufpi.upstream.pages``): a filename is safe and names this project, a URL is an
absolute http(s) URL, a hash is 64 lowercase hex digits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tufpi.index.names import DistFilename

__all__ = ["PageBody", "Received", "UpstreamFile", "UpstreamProject"]


@dataclasses.dataclass(frozen=True)
class UpstreamFile:
    """One distribution file an upstream lists for a project.

    Attributes:
        filename: the file's name, a valid wheel or sdist filename of the project.
        url: the absolute http(s) URL of the file on upstream (its fragment removed).
        sha256: the file's sha256 as upstream lists it, lowercase hex. A file upstream gives
            no sha256 for is not an ``UpstreamFile`` (it is in ``UpstreamProject.skipped``).
        size: its size in bytes, when upstream gives it (PEP 700).
        requires_python: PEP 503 ``data-requires-python`` / PEP 691 ``requires-python``.
        yanked: False, True, or the reason given (PEP 592, PEP 691); an empty reason is True.
        core_metadata_sha256: the sha256 of the PEP 658 metadata file when upstream offers
            it with a sha256 (PEP 714 ``core-metadata``, or the older
            ``dist-info-metadata``); None when it offers none, or offers it with no sha256
            (nothing to check it against).
        provenance: the absolute URL of its PEP 740 provenance, when given.
        upload_time: PEP 700's upload time, in UTC, when given.
        dist: what the filename says (project, version, package type, wheel tags).
    """

    filename: str
    url: str
    sha256: str
    size: int | None
    requires_python: str | None
    yanked: bool | str
    core_metadata_sha256: str | None
    provenance: str | None
    upload_time: dt.datetime | None
    dist: DistFilename

    @property
    def core_metadata_url(self) -> str:
        """Where PEP 658 puts the metadata file: the file's URL with ``.metadata`` added."""
        return self.url + ".metadata"


@dataclasses.dataclass(frozen=True)
class UpstreamProject:
    """A project page read from an upstream.

    Attributes:
        name: the project's name as upstream spells it (PEP 691 ``name``; for an HTML page,
            the name asked for).
        page_url: the URL the page was read from, after redirects.
        files: the files tufpi may mirror, in the page's order.
        skipped: ``(filename or href, why)`` for each link not taken, in plain words.
        upstream: the upstream's base URL, as configured (without credentials): for
            messages, and for PEP 708 ``tracks``.
        versions: PEP 700 ``versions`` when the page lists them (JSON 1.1+), else empty.
        tracks: PEP 708 ``tracks`` the upstream page declares.
        alternate_locations: PEP 708 ``alternate-locations`` the upstream page declares.
        conflicts: ``(filename, sha256 values)`` for each filename the page lists more than
            once with different sha256 values: none of its entries is taken (it is in
            ``skipped`` too), since nothing tells which file is meant.
    """

    name: str
    page_url: str
    files: tuple[UpstreamFile, ...]
    skipped: tuple[tuple[str, str], ...]
    upstream: str
    versions: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()
    alternate_locations: tuple[str, ...] = ()
    conflicts: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclasses.dataclass(frozen=True)
class PageBody:
    """A page as one bounded GET brought it (decoded from gzip, not yet parsed).

    Attributes:
        url: where it was read from, after redirects (relative links resolve against it).
        content_type: its Content-Type header ("" when none).
        content: its bytes.
    """

    url: str
    content_type: str
    content: bytes


@dataclasses.dataclass(frozen=True)
class Received:
    """What one bounded download wrote: its byte count and its Last-Modified header."""

    size: int
    last_modified: str | None
