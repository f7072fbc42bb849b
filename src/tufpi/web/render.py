"""Render simple API pages (PEP 503 HTML, PEP 691/700 JSON) and the JSON API (pure).

Simple pages link to files by *relative* URL, so a page's bytes do not depend on the host it
is served from: the same bytes can be signed once and served by any mirror or CDN.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from html import escape
from typing import Any

from packaging.version import InvalidVersion, Version

from tufpi.index.views import FileView, ProjectDetail, ProjectPage, ReleaseView

API_VERSION = "1.1"
# A project page is served at /simple/<name>/; files live under /packages/.
_PAGE_TO_ROOT = "../../"


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def index_html(projects: Iterable[tuple[str, str]]) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html><head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        "<title>Simple index</title></head><body>",
    ]
    lines += [f'<a href="{escape(norm)}/">{escape(name)}</a><br>' for name, norm in projects]
    lines.append("</body></html>\n")
    return "\n".join(lines).encode()


def index_json(projects: Iterable[tuple[str, str]]) -> bytes:
    return _dumps(
        {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n, _ in projects]}
    )


def _file_anchor(f: FileView) -> str:
    attrs = [f'href="{escape(_PAGE_TO_ROOT + f.path)}#sha256={f.sha256}"']
    if f.requires_python:
        attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
    if f.metadata_sha256:
        value = f"sha256={f.metadata_sha256}"
        attrs.append(f'data-dist-info-metadata="{value}"')
        attrs.append(f'data-core-metadata="{value}"')
    if f.yanked:
        attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
    return f"<a {' '.join(attrs)}>{escape(f.filename)}</a><br>"


def project_html(page: ProjectPage) -> bytes:
    lines = [
        "<!DOCTYPE html>",
        "<html><head>",
        f'<meta name="pypi:repository-version" content="{API_VERSION}">',
        f"<title>Links for {escape(page.name)}</title></head><body>",
        f"<h1>Links for {escape(page.name)}</h1>",
    ]
    lines += [_file_anchor(f) for f in page.files]
    lines.append("</body></html>\n")
    return "\n".join(lines).encode()


def _file_json(f: FileView) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": f.filename,
        "url": _PAGE_TO_ROOT + f.path,
        "hashes": {"sha256": f.sha256},
    }
    if f.requires_python:
        entry["requires-python"] = f.requires_python
    metadata: Any = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
    entry["core-metadata"] = metadata
    entry["dist-info-metadata"] = metadata
    entry["yanked"] = (f.yanked_reason or True) if f.yanked else False
    entry["size"] = f.size
    entry["upload-time"] = _iso(f.upload_time)
    return entry


def project_json(page: ProjectPage) -> bytes:
    return _dumps(
        {
            "meta": {"api-version": API_VERSION},
            "name": page.normalized_name,
            "versions": list(page.versions),
            "files": [_file_json(f) for f in page.files],
        }
    )


# -- the JSON API (/pypi/<project>/json), in the shape PyPI returns -----------------------------


def _latest(releases: tuple[ReleaseView, ...]) -> ReleaseView | None:
    def rank(r: ReleaseView) -> tuple[bool, bool, Version]:
        try:
            v = Version(r.version)
        except InvalidVersion:
            return (False, False, Version("0"))
        return (not r.yanked, not v.is_prerelease, v)

    return max(releases, key=rank, default=None)


def _api_file(f: FileView, base_url: str) -> dict[str, Any]:
    return {
        "filename": f.filename,
        "url": base_url + f.path,
        "digests": {"sha256": f.sha256, "md5": f.md5, "blake2b_256": f.blake2_256},
        "md5_digest": f.md5,
        "size": f.size,
        "packagetype": f.packagetype,
        "python_version": f.python_version,
        "requires_python": f.requires_python,
        "upload_time": _iso(f.upload_time)[:19],
        "upload_time_iso_8601": _iso(f.upload_time),
        "yanked": f.yanked,
        "yanked_reason": f.yanked_reason,
        "has_sig": False,
        "comment_text": "",
        "core_metadata": {"sha256": f.metadata_sha256} if f.metadata_sha256 else False,
    }


def _info(detail: ProjectDetail, release: ReleaseView, base_url: str) -> dict[str, Any]:
    md = release.core_metadata
    name = detail.page.name
    urls = dict(md.get("project_urls") or {})
    return {
        "name": md.get("name", name),
        "version": release.version,
        "summary": md.get("summary"),
        "description": release.description or md.get("description") or "",
        "description_content_type": md.get("description_content_type"),
        "author": md.get("author"),
        "author_email": md.get("author_email"),
        "maintainer": md.get("maintainer"),
        "maintainer_email": md.get("maintainer_email"),
        "license": md.get("license"),
        "license_expression": md.get("license_expression"),
        "keywords": ",".join(md.get("keywords") or []),
        "classifiers": md.get("classifiers") or [],
        "platform": ",".join(md.get("platforms") or []) or None,
        "home_page": md.get("home_page"),
        "download_url": md.get("download_url"),
        "project_urls": urls or None,
        "requires_dist": md.get("requires_dist"),
        "requires_python": release.requires_python,
        "provides_extra": md.get("provides_extra"),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason,
        "package_url": f"{base_url}project/{detail.page.normalized_name}/",
        "project_url": f"{base_url}project/{detail.page.normalized_name}/",
        "release_url": f"{base_url}project/{detail.page.normalized_name}/{release.version}/",
    }


def project_api(detail: ProjectDetail, base_url: str, version: str | None = None) -> bytes | None:
    """``/pypi/<project>/json`` (version None) or ``/pypi/<project>/<version>/json``.

    Returns None when ``version`` names no release. ``base_url`` ends with '/'.
    """
    if version is None:
        release = _latest(detail.releases)
    else:
        release = next((r for r in detail.releases if _same_version(r.version, version)), None)
    if release is None:
        return None
    by_version: dict[str, list[dict[str, Any]]] = {r.version: [] for r in detail.releases}
    for f in detail.page.files:
        by_version.setdefault(f.version, []).append(_api_file(f, base_url))
    body: dict[str, Any] = {
        "info": _info(detail, release, base_url),
        "last_serial": detail.page.serial,
        "urls": by_version.get(release.version, []),
        "vulnerabilities": [],
    }
    if version is None:
        body["releases"] = by_version
    return _dumps(body)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
