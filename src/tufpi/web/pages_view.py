"""What the project and release pages show, built from plain values (pure).

The one piece of HTML made here is a long description, by readme_renderer, whose output
its sanitiser (nh3) has already cleaned; everything else is plain text the templates
escape. A link is made only of an http(s) URL: anything else (``javascript:``, ``data:``)
is shown as text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from packaging.version import InvalidVersion, Version
from readme_renderer import markdown, rst, txt

from tufpi.index.latest import latest_version
from tufpi.index.rules import release_key
from tufpi.index.showcase import Showcase, Signing
from tufpi.index.views import FileView, ReleaseView
from tufpi.trust import layout

# A description longer than this is shown as plain text: rendering costs time per byte.
MAX_RENDERED = 512 * 1024


@dataclasses.dataclass(frozen=True)
class Link:
    label: str
    url: str
    safe: bool  # False: shown as text, never as a link


@dataclasses.dataclass(frozen=True)
class FileRow:
    filename: str
    path: str
    packagetype: str
    size: int
    sha256: str
    upload_time: dt.datetime
    uploader: str | None
    role: str | None  # "bin-0a3f", None when not a target
    published: int | None  # the snapshot version; None: pending
    yanked: bool
    yanked_reason: str | None


@dataclasses.dataclass(frozen=True)
class ReleaseRow:
    version: str
    created: str
    yanked: bool
    yanked_reason: str | None
    prerelease: bool


def is_http_url(url: str) -> bool:
    """Whether ``url`` may be a link: http(s), with a host, no control characters."""
    if not url or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def links(metadata: Mapping[str, Any]) -> list[Link]:
    """Home-page and each Project-URL, in order, each marked safe or not."""
    found: list[tuple[str, str]] = []
    home = metadata.get("home_page")
    if isinstance(home, str) and home.strip():
        found.append(("Homepage", home.strip()))
    urls = metadata.get("project_urls") or {}
    if isinstance(urls, Mapping):
        found += [(str(k), str(v).strip()) for k, v in urls.items() if str(v).strip()]
    return [Link(label, url, is_http_url(url)) for label, url in found]


def dependencies(metadata: Mapping[str, Any]) -> list[str]:
    """Requires-Dist, as written."""
    value = metadata.get("requires_dist") or []
    return [str(v) for v in value] if isinstance(value, list) else []


def keywords(metadata: Mapping[str, Any]) -> list[str]:
    value = metadata.get("keywords") or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def description_html(text: str | None, content_type: str | None) -> Markup | None:
    """The long description rendered by its Description-Content-Type (markdown, rst or
    plain), sanitised by readme_renderer; None when it cannot be rendered (the page then
    shows the text, escaped)."""
    if not text:
        return None
    if len(text) > MAX_RENDERED:
        return None
    kind = (content_type or "").split(";")[0].strip().lower()
    params = (content_type or "").lower()
    try:
        if kind == "text/markdown":
            variant = "CommonMark" if "variant=commonmark" in params else "GFM"
            html = markdown.render(text, variant=variant)
        elif kind == "text/plain":
            html = txt.render(text)
        else:  # text/x-rst, or no type: PyPI's default
            html = rst.render(text)
    except Exception:  # any renderer failure shows the text instead
        return None
    if html is None:
        return None
    return Markup(accessible(html))  # noqa: S704 - sanitised by readme_renderer (nh3)


# Sanitised descriptions, made accessible (axe-core): comrak's heading anchors reach the page
# as empty links (nh3 keeps their href only), fenced code's ``lang`` names a programming
# language where HTML wants a human one, and a code block wider than the column scrolls, so
# a keyboard must be able to reach it. Applied after sanitising, this only removes whole
# tags and adds one constant attribute with no quote (so inside an attribute value, where
# nh3 leaves ``<`` as it is, it cannot end the value).
_EMPTY_ANCHOR = re.compile(r'<a href="#user-content-[^"<>]*" rel="nofollow"></a>')
_PRE = re.compile(r'<pre(?: lang="[^"<>]*")?>')


def accessible(html: str) -> str:
    """``html`` (readme_renderer's output) without empty heading anchors, with each code
    block reachable by the keyboard and without its ``lang``."""
    return _PRE.sub("<pre tabindex=0>", _EMPTY_ANCHOR.sub("", html))


def release_key_of(version: str) -> str | None:
    """A version's release identity (``1.0.0`` is release 1.0), None if invalid."""
    try:
        return release_key(Version(version))
    except InvalidVersion:
        return None


def pick(releases: Iterable[ReleaseView], version: str | None) -> ReleaseView | None:
    """The release ``version`` names (by its release identity), or the latest if None."""
    candidates = list(releases)
    if version is None:
        chosen = latest_version((r.version, r.yanked) for r in candidates)
        return next((r for r in candidates if r.version == chosen), None)
    wanted = release_key_of(version)
    if wanted is None:
        return next((r for r in candidates if r.version == version), None)
    return next((r for r in candidates if release_key_of(r.version) == wanted), None)


def file_rows(
    files: Iterable[FileView], signing: Mapping[str, Signing], bins: int
) -> list[FileRow]:
    """Each file, with who uploaded it and whether (and where) it is signed."""
    rows = []
    for f in files:
        s = signing.get(f.path, Signing(None, None, None))
        role = layout.bin_name(s.bin, bins) if s.bin is not None and bins else None
        rows.append(
            FileRow(
                f.filename,
                f.path,
                f.packagetype,
                f.size,
                f.sha256,
                f.upload_time,
                s.uploader,
                role,
                s.published_version,
                f.yanked,
                f.yanked_reason,
            )
        )
    return rows


def history(view: Showcase) -> list[ReleaseRow]:
    """Every release, newest first, with the date of its first file."""
    first: dict[str, dt.datetime] = {}
    for f in view.detail.page.files:
        if f.version not in first or f.upload_time < first[f.version]:
            first[f.version] = f.upload_time
    rows = []
    for r in reversed(view.detail.releases):
        when = first.get(r.version)
        rows.append(
            ReleaseRow(
                r.version,
                f"{when:%Y-%m-%d}" if when else "",
                r.yanked,
                r.yanked_reason,
                _prerelease(r.version),
            )
        )
    return rows


def _prerelease(version: str) -> bool:
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return False


def size_text(size: int) -> str:
    """A size as people read it: 512 bytes, 12.3 kB, 4.5 MB."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"
