"""Render the project list ``/simple/`` and the JSON API (pure).

Project pages are signed targets and are rendered where they change: ``index.pages``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from packaging.version import InvalidVersion, Version

from tufpi.index.pages import API_VERSION, dumps, iso
from tufpi.index.views import FileView, ProjectDetail, ReleaseView


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
    return dumps(
        {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n, _ in projects]}
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
        "upload_time": iso(f.upload_time)[:19],
        "upload_time_iso_8601": iso(f.upload_time),
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
    return dumps(body)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b
