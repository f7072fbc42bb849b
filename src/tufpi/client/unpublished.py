"""What ``--allow-unpublished`` lets through, as pure decisions: which entries of the index's
unsigned JSON page may be added to the signed page, and the page the proxy answers with.

PEP 458 lets an index serve a file before a signed snapshot lists it. The unsigned page says
so, but it is unverified: a mirror, a CDN or the network may have written it. So an entry is
added only if all of these hold, and is otherwise left out (with the reason, for the log):

- it is a distribution of this project whose release the signed page does not have: it never
  replaces a signed file (same filename, however spelled) nor shadows one (another file of a
  signed release, which an installer could prefer to the signed ones);
- its URL resolves to the index's own origin, under the index's ``packages/``: nothing is
  fetched from another host;
- the page states its sha256 (the proxy checks the bytes against it) and, if it states a
  size (PEP 700), a sane one.

Any bytes at all for the unsigned page (not JSON, HTML, wrong types, missing keys) give no
additions: the proxy then answers with the signed page alone.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html import escape
from typing import Any
from urllib.parse import urljoin, urlsplit

from tufpi.index.errors import InvalidUpload
from tufpi.index.names import DistFilename, parse_dist_filename

API_VERSION = "1.1"
# A page is served at /simple/<name>/, files under /packages/.
_PAGE_TO_ROOT = "../../"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Characters a served path may hold: no percent-escapes, queries, fragments or backslashes,
# so the path the installer asks for is the path the page announced, byte for byte.
_SAFE_PATH = re.compile(r"[A-Za-z0-9._~+!=@-]+(/[A-Za-z0-9._~+!=@-]+)*")


@dataclasses.dataclass(frozen=True)
class Addition:
    """An unpublished file the proxy adds to a project's page, and may serve, unverified.

    ``path`` is relative to the index root (``packages/...``), served by the proxy under the
    same path; ``sha256`` and ``size`` are what the index's unsigned page states.
    """

    filename: str
    path: str
    sha256: str
    size: int | None
    requires_python: str | None


@dataclasses.dataclass(frozen=True)
class Offer:
    """The additions a page may show, and the entries left out with the reason for each."""

    additions: tuple[Addition, ...]
    refused: tuple[tuple[str, str], ...]


def _key(dist: DistFilename) -> tuple[object, ...]:
    """A filename, normalized: two spellings of one distribution have the same key."""
    return (dist.name, dist.version, dist.packagetype, dist.build, dist.tags)


def _signed_files(signed: dict[str, Any] | None) -> dict[tuple[object, ...], tuple[str, str]]:
    """The signed page's distributions: (filename, sha256) by normalized filename."""
    dists = {}
    for entry in (signed or {}).get("files", []):
        try:
            dist = parse_dist_filename(str(entry.get("filename")))
        except InvalidUpload:
            continue
        dists[_key(dist)] = (dist.filename, str((entry.get("hashes") or {}).get("sha256")))
    return dists


def _own_path(url: object, page_url: str, index_url: str) -> str | None:
    """The path under ``index_url`` that ``url`` (relative to ``page_url``) names, if it is
    one of the index's own ``packages/`` files; None for anything else."""
    if not isinstance(url, str):
        return None
    absolute = urljoin(page_url, url)
    parts, base = urlsplit(absolute), urlsplit(index_url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or parts.query:
        return None
    if not parts.path.startswith(base.path):
        return None
    path = parts.path.removeprefix(base.path)
    if not path.startswith("packages/") or not _SAFE_PATH.fullmatch(path):
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return path


def _entry(
    project: str, raw: dict[str, Any], dist: DistFilename, page_url: str, index_url: str
) -> Addition | str:
    """One file entry of the unsigned page: an addition, or the reason it is refused."""
    if dist.name != project:
        return f"a file of another project ({dist.name})"
    path = _own_path(raw.get("url"), page_url, index_url)
    if path is None or path.rpartition("/")[2] != dist.filename:
        return "its URL is not one of the index's own files"
    hashes = raw.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        return "the index states no sha256 for it"
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return "its stated size is not a size"
    requires = raw.get("requires-python")
    requires_python = requires if isinstance(requires, str) and requires.isprintable() else None
    return Addition(dist.filename, path, sha256, size, requires_python)


def _dist(raw: Any) -> DistFilename | None:
    """The distribution an entry names, if it is an entry with a distribution filename."""
    if not isinstance(raw, dict) or not isinstance(raw.get("filename"), str):
        return None
    try:
        return parse_dist_filename(raw["filename"])
    except InvalidUpload:
        return None


def offer(
    project: str, signed: dict[str, Any] | None, unsigned: bytes, page_url: str, index_url: str
) -> Offer:
    """The entries of ``unsigned`` (the index's JSON page, any bytes) that may be added to
    ``signed`` (the verified JSON page, parsed; None if the project is not listed)."""
    try:
        files = json.loads(unsigned).get("files")
    except (ValueError, AttributeError, RecursionError):
        return Offer((), ())
    if not isinstance(files, list):
        return Offer((), ())
    signed_files = _signed_files(signed)
    releases = {version for _name, version, *_ in signed_files}
    taken = set(signed_files)
    additions: list[Addition] = []
    refused: list[tuple[str, str]] = []
    for raw in files:
        dist = _dist(raw)
        if dist is None:
            refused.append(
                (
                    str(raw.get("filename") if isinstance(raw, dict) else raw)[:200],
                    "not a distribution file entry",
                )
            )
            continue
        entry = _entry(project, raw, dist, page_url, index_url)
        if _key(dist) in signed_files:
            # The signed entry itself is no addition (the proxy serves it verified); any
            # other bytes or spelling under its name would replace it.
            if isinstance(entry, str) or signed_files[_key(dist)] != (entry.filename, entry.sha256):
                refused.append((dist.filename, "the signed page has this file: not replaced"))
            continue
        if isinstance(entry, Addition) and dist.version in releases:
            entry = f"release {dist.version} is signed: not shadowed"
        elif isinstance(entry, Addition) and _key(dist) in taken:
            entry = "listed twice"
        if isinstance(entry, str):
            refused.append((dist.filename, entry))
            continue
        taken.add(_key(dist))
        additions.append(entry)
    return Offer(tuple(additions), tuple(refused))


def _added_json(addition: Addition) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": addition.filename,
        "url": _PAGE_TO_ROOT + addition.path,
        "hashes": {"sha256": addition.sha256},
        # No PEP 658 file: the installer reads the metadata from the checked file itself.
        "core-metadata": False,
        "dist-info-metadata": False,
        "yanked": False,
    }
    if addition.requires_python:
        entry["requires-python"] = addition.requires_python
    if addition.size is not None:
        entry["size"] = addition.size
    return entry


def _versions(signed: dict[str, Any], additions: tuple[Addition, ...]) -> list[str]:
    versions = [v for v in signed.get("versions", []) if isinstance(v, str)]
    for addition in additions:
        version = str(parse_dist_filename(addition.filename).version)
        if version not in versions:
            versions.append(version)
    return versions


def compose_json(project: str, signed: dict[str, Any] | None, offer: Offer) -> bytes:
    """The PEP 691 JSON page: the signed page's entries, unchanged, then the additions."""
    page = dict(signed or {"meta": {"api-version": API_VERSION}, "name": project, "files": []})
    page["files"] = [*page.get("files", []), *map(_added_json, offer.additions)]
    page["versions"] = _versions(page, offer.additions)
    return json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode()


def _anchor(entry: dict[str, Any]) -> str:
    hashes = entry.get("hashes") or {}
    fragment = f"#sha256={hashes['sha256']}" if "sha256" in hashes else ""
    attrs = [f'href="{escape(str(entry["url"]) + fragment)}"']
    if entry.get("requires-python"):
        attrs.append(f'data-requires-python="{escape(str(entry["requires-python"]))}"')
    metadata = entry.get("core-metadata")
    if isinstance(metadata, dict) and "sha256" in metadata:
        value = escape(f"sha256={metadata['sha256']}")
        attrs.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
    yanked = entry.get("yanked")
    if yanked:
        reason = yanked if isinstance(yanked, str) else ""
        attrs.append(f'data-yanked="{escape(reason)}"')
    return f"<a {' '.join(attrs)}>{escape(str(entry['filename']))}</a><br>"


def compose_html(project: str, signed: dict[str, Any] | None, offer: Offer) -> bytes:
    """The PEP 503 HTML page of the same entries as ``compose_json``."""
    page = json.loads(compose_json(project, signed, offer))
    lines = [
        "<!DOCTYPE html>",
        "<html><head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        f"<title>Links for {escape(project)}</title></head><body>",
        f"<h1>Links for {escape(project)}</h1>",
        *(_anchor(entry) for entry in page["files"]),
        "</body></html>\n",
    ]
    return "\n".join(lines).encode()
