"""Which links of an upstream's project page tufpi may take (pure: a parsed page in, an
``UpstreamProject`` out).

Everything on the page is hostile input. A link is taken only when its URL resolves to an
absolute http(s) URL, its filename is a safe wheel or sdist filename (``tufpi.index.names``:
no separator, ``..``, control or non-ASCII character) of *this* project, and upstream gives
a well-formed sha256 to check its bytes against. A filename listed more than once is taken
once when every entry lists the same sha256, and not at all when they differ (``conflicting``:
nothing tells which file is meant, and the first entry is no more to be trusted than the
second). Every other link is skipped with the reason, in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

from tufpi.index.errors import InvalidUpload
from tufpi.index.names import SDIST_SUFFIXES, DistFilename, normalize, parse_dist_filename
from tufpi.index.upload import MAX_PYVERSION
from tufpi.upstream.errors import UpstreamError
from tufpi.upstream.model import UpstreamFile, UpstreamProject
from tufpi.upstream.pages import Link, Page

__all__ = ["MAX_REQUIRES_PYTHON", "conflict_text", "conflicting", "project_of", "shown"]

_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_PRINTABLE = re.compile(r"[\x20-\x7e]*", re.ASCII)
_DIST_SUFFIXES = (".whl", *SDIST_SUFFIXES)
# The width of files.requires_python (tufpi.db.models).
MAX_REQUIRES_PYTHON = 200
_SHOWN_MAX = 120


def shown(text: str) -> str:
    """``text`` as a message may show it: printable ASCII as it is, anything else (a control
    character that could forge a log line, a look-alike) escaped; long text cut."""
    cut = text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "..."
    return cut if _PRINTABLE.fullmatch(cut) else ascii(cut)


def _http_url(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``, when that is an absolute http(s) URL."""
    try:
        parts = urlsplit(href)
        if not parts.scheme:  # relative: resolved against the page (PyPI's are absolute)
            href = urljoin(base, href)
            parts = urlsplit(href)
        if parts.scheme in ("http", "https") and parts.hostname:
            return href
    except ValueError:  # a bad port or an IPv6 literal that is not one
        pass
    return None


def _dist(filename: str, project: str) -> DistFilename | str:
    """What ``filename`` says, or why it is not a file of ``project`` tufpi can take."""
    if ".." in filename:
        return "its filename contains '..'"
    if not filename.endswith(_DIST_SUFFIXES):
        return "not a wheel (.whl) or sdist (.tar.gz, .zip)"
    try:
        dist = parse_dist_filename(filename)
    except InvalidUpload as e:
        return e.message
    if dist.name != project:
        return f"a file of project {dist.name!r}, not of {project!r}"
    if dist.packagetype == "bdist_wheel" and len(filename.split("-")[-3]) > MAX_PYVERSION:
        return "its Python tag is too long"
    return dist


def _flaw(link: Link) -> str | None:
    """What makes the file of ``link`` unusable, beyond its URL and filename."""
    sha256 = link.hashes.get("sha256")
    if sha256 is None:
        return "upstream lists no sha256 for it"
    if not _SHA256.fullmatch(sha256):
        return "its sha256 is not 64 hexadecimal digits"
    if link.size is not None and link.size < 0:
        return f"its size {link.size} is negative"
    if link.requires_python is not None and len(link.requires_python) > MAX_REQUIRES_PYTHON:
        return f"its requires-python is longer than {MAX_REQUIRES_PYTHON} characters"
    return None


def _file(link: Link, project: str, page_url: str) -> UpstreamFile | str:
    """The file ``link`` lists, or why it is skipped."""
    url = _http_url(page_url, link.href)
    if url is None:
        return f"its URL {shown(link.href)} is not an http(s) URL"
    found = _dist(link.filename, project)
    if isinstance(found, str):
        return found
    flaw = _flaw(link)
    if flaw is not None:
        return flaw
    metadata = link.core_metadata
    metadata_sha256 = metadata.get("sha256") if isinstance(metadata, dict) else None
    if metadata_sha256 is not None and not _SHA256.fullmatch(metadata_sha256):
        metadata_sha256 = None  # a metadata file we cannot check is one we do not offer
    provenance = _http_url(page_url, link.provenance) if link.provenance else None
    return UpstreamFile(
        filename=link.filename,
        url=url,
        sha256=link.hashes["sha256"],
        size=link.size,
        requires_python=link.requires_python,
        yanked=link.yanked,
        core_metadata_sha256=metadata_sha256,
        provenance=provenance,
        upload_time=link.upload_time,
        dist=found,
    )


def conflicting(listed: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """The filenames of ``listed`` (``(filename, hash)`` in a page's order) that come with
    more than one hash, each with its distinct hashes in the order listed. A filename listed
    twice with the same hash is no conflict (it is collapsed)."""
    hashes: dict[str, list[str]] = {}
    for filename, digest in listed:
        seen = hashes.setdefault(filename, [])
        if digest not in seen:
            seen.append(digest)
    return {name: tuple(found) for name, found in hashes.items() if len(found) > 1}


def conflict_text(hashes: tuple[str, ...], kind: str = "sha256") -> str:
    """Why a filename listed with ``hashes`` is left off, in plain words."""
    return (
        f"listed more than once with different {kind} values ({', '.join(hashes)}): "
        "which file is meant cannot be told, so none is taken"
    )


def project_of(page: Page, project: str, page_url: str, upstream: str) -> UpstreamProject:
    """The files of ``page``, read at ``page_url`` from ``upstream`` for ``project`` (its
    normalised name), and the links skipped with their reasons.

    Raises:
        UpstreamError: the page says it is another project's (PEP 691 ``name``).
    """
    if page.name is not None and normalize(page.name) != project:
        raise UpstreamError(
            upstream, f"sent the page of project {shown(page.name)} when asked for {project!r}"
        )
    found = [(link, _file(link, project, page_url)) for link in page.links]
    conflicts = conflicting((f.filename, f.sha256) for _, f in found if not isinstance(f, str))
    files: list[UpstreamFile] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for link, file in found:
        if isinstance(file, str):
            skipped.append((shown(link.filename or link.href), file))
        elif file.filename in seen:
            continue  # the same sha256 again (a conflict was noted at its first entry)
        elif file.filename in conflicts:
            seen.add(file.filename)
            skipped.append((file.filename, conflict_text(conflicts[file.filename])))
        else:
            seen.add(file.filename)
            files.append(file)
    return UpstreamProject(
        name=page.name or project,
        page_url=page_url,
        files=tuple(files),
        skipped=tuple(skipped),
        upstream=upstream,
        versions=page.versions,
        tracks=page.tracks,
        alternate_locations=page.alternate_locations,
        conflicts=tuple(conflicts.items()),
    )
