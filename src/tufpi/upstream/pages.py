"""Read simple API pages (PEP 503 HTML, PEP 691 JSON): pure, text in, links out.

What a link says is taken as the page writes it (``href`` unresolved, hashes lowercased):
``tufpi.upstream.listing`` decides which links tufpi may take. Both the upstream reader and
``tufpi import`` read other indexes' pages with this module.

Read per representation:
- PEP 503 anchors: the URL (its fragment ``#<hash>=<hex>``), ``data-requires-python``,
  ``data-yanked`` (PEP 592), ``data-core-metadata`` / ``data-dist-info-metadata`` (PEP 658,
  714), ``data-provenance`` (PEP 740); ``<meta name="pypi:repository-version">`` (PEP 629),
  ``pypi:tracks`` and ``pypi:alternate-locations`` (PEP 708).
- PEP 691 objects: ``name``, ``meta.api-version``, each file's ``filename``, ``url``,
  ``hashes``, ``requires-python``, ``yanked``, ``core-metadata`` / ``dist-info-metadata``,
  ``provenance``, PEP 700's ``size``, ``upload-time`` and ``versions``, PEP 708's ``tracks``
  and ``alternate-locations``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from email.message import Message
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

__all__ = [
    "ACCEPT",
    "HTML_TYPE",
    "JSON_TYPE",
    "Link",
    "Page",
    "PageError",
    "html_links",
    "html_projects",
    "json_links",
    "json_projects",
    "page_text",
    "preferred_hash",
    "read_html",
    "read_json",
]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
# PEP 691: ask for JSON, accept HTML from an index that does not offer it.
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.1"
# PEP 629 / PEP 691: a client refuses a page of a major API version it does not know.
_API_MAJOR = "1"
# PEP 503 pages are UTF-8 in practice; HTML that declares no charset is read as such.
_DEFAULT_CHARSET = "utf-8"
_CHARSET_SHOWN = 40
# No bound given: as many links as the page holds.
_UNBOUNDED = 2**62


class PageError(Exception):
    """A page is not a simple API page we can read."""


@dataclasses.dataclass(frozen=True)
class Link:
    """One file listed on a project page.

    ``href`` is as written on the page (resolve it against the page's URL), without its
    fragment; ``hashes`` maps hashlib names to lowercase hex digests; ``upload_time`` and
    ``size`` are PEP 700's, when given (JSON only). ``yanked`` is False, True or the reason
    (PEP 592). ``core_metadata`` is False (none), True (offered, no hash) or the hashes of the
    PEP 658 file. ``provenance`` is PEP 740's URL, as written.
    """

    filename: str
    href: str
    hashes: dict[str, str]
    upload_time: dt.datetime | None = None
    size: int | None = None
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: bool | dict[str, str] = False
    provenance: str | None = None


@dataclasses.dataclass(frozen=True)
class Page:
    """A project page: its links and what the page says of itself.

    ``name`` is PEP 691's (None for HTML, which names no project); ``versions`` PEP 700's;
    ``tracks`` and ``alternate_locations`` PEP 708's.
    """

    links: list[Link]
    name: str | None = None
    versions: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()
    alternate_locations: tuple[str, ...] = ()


class _Anchors(HTMLParser):
    def __init__(self, max_links: int) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: list[tuple[str, str]] = []
        self._max_links = max_links
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            if len(self.anchors) >= self._max_links:
                raise PageError(f"more than {self._max_links} links")
            self._open, self._text = dict(attrs), []
        elif tag == "meta":
            named = dict(attrs)
            name, content = named.get("name"), named.get("content")
            if name and content is not None:
                self.meta.append((name.lower(), content))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _parsed(html: str, max_links: int = _UNBOUNDED) -> _Anchors:
    parser = _Anchors(max_links)
    parser.feed(html)
    parser.close()
    return parser


def _check_api_version(version: object) -> None:
    if version is None:
        return
    if not isinstance(version, str) or version.split(".")[0] != _API_MAJOR:
        raise PageError(f"simple API version {version!r} is not 1.x")


def _fragment_hash(href: str) -> tuple[str, dict[str, str]]:
    """PEP 503: a URL fragment ``#<hashname>=<hex>`` names the file's hash."""
    url, fragment = urldefrag(href)
    name, sep, value = fragment.partition("=")
    return url, ({name.lower(): value.lower()} if sep and name and value else {})


def _filename_of(url: str) -> str:
    return unquote(urlsplit(url).path.rpartition("/")[2])


def _html_metadata(attrs: dict[str, str | None]) -> bool | dict[str, str]:
    """PEP 714's ``data-core-metadata``, else PEP 658's ``data-dist-info-metadata``:
    ``true`` or ``<hashname>=<hex>``."""
    for key in ("data-core-metadata", "data-dist-info-metadata"):
        if key in attrs:
            value = (attrs[key] or "").strip()
            name, sep, digest = value.partition("=")
            if sep and name and digest:
                return {name.lower(): digest.lower()}
            return value.lower() == "true"
    return False


def _html_link(attrs: dict[str, str | None], text: str, href: str) -> Link:
    url, hashes = _fragment_hash(href)
    yanked: bool | str = False
    if "data-yanked" in attrs:
        yanked = attrs["data-yanked"] or True
    return Link(
        _filename_of(url) or text,
        url,
        hashes,
        requires_python=attrs.get("data-requires-python") or None,
        yanked=yanked,
        core_metadata=_html_metadata(attrs),
        provenance=attrs.get("data-provenance") or None,
    )


def _charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, as HTTP parses it (RFC 9110 8.3)."""
    message = Message()
    message["content-type"] = content_type
    found = message.get_param("charset")
    return found.strip() if isinstance(found, str) else None


def page_text(body: bytes, content_type: str) -> str:
    """The text of a page served as ``content_type``. JSON is UTF-8 whatever is declared (RFC
    8259 8.1, PEP 691); HTML is decoded in the charset its Content-Type declares, UTF-8 when
    it declares none, a byte that is not of the charset replaced (the anchors still parse).

    Raises:
        PageError: JSON that is not UTF-8, or HTML in a charset Python has no codec for.
    """
    kind = content_type.partition(";")[0].strip().lower()
    if kind == JSON_TYPE:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PageError("its JSON is not UTF-8") from e
    charset = _charset(content_type) or _DEFAULT_CHARSET
    try:
        return body.decode(charset, errors="replace")
    except LookupError as e:  # unknown, or a codec that is not a text encoding (base64)
        shown = ascii(charset[:_CHARSET_SHOWN])
        raise PageError(
            f"it declares the charset {shown}, which is not a known text encoding"
        ) from e


def read_html(html: str, max_links: int = _UNBOUNDED) -> Page:
    """A PEP 503 project page: the anchors' files and the page's PEP 629/708 meta tags.

    Raises:
        PageError: more than ``max_links`` anchors, or a repository version other than 1.x.
    """
    parsed = _parsed(html, max_links)
    meta: dict[str, list[str]] = {}
    for name, content in parsed.meta:
        meta.setdefault(name, []).append(content)
    for version in meta.get("pypi:repository-version", []):
        _check_api_version(version)
    links = [
        _html_link(attrs, text, href)
        for attrs, text in parsed.anchors
        if (href := attrs.get("href"))
    ]
    return Page(
        links,
        tracks=tuple(meta.get("pypi:tracks", [])),
        alternate_locations=tuple(meta.get("pypi:alternate-locations", [])),
    )


def html_links(html: str) -> list[Link]:
    """The files of a PEP 503 project page (the anchor's URL names the file)."""
    return read_html(html).links


def html_projects(html: str) -> list[str]:
    """The project names of a PEP 503 root page (the anchors' text)."""
    return [text for attrs, text in _parsed(html).anchors if attrs.get("href") and text]


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)  # SQLite keeps the wall time only


class _Counted:
    """A ``json`` object hook that refuses a page of more objects than a bound, as they are
    parsed (a 20 MiB page of ``{}`` is a million dictionaries)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.count += 1
        if self.count > self.limit:
            raise PageError(f"more than {self.limit} JSON objects")
        return dict(pairs)


def _load(text: str, max_objects: int = _UNBOUNDED) -> dict[str, Any]:
    try:
        data = json.loads(text, object_pairs_hook=_Counted(max_objects))
    except ValueError as e:  # json.JSONDecodeError is one
        raise PageError(f"not JSON: {e}") from e
    except RecursionError as e:
        raise PageError("JSON nested too deep") from e
    if not isinstance(data, dict):
        raise PageError("not a PEP 691 object")
    meta = data.get("meta")
    if isinstance(meta, dict):
        _check_api_version(meta.get("api-version"))
    return data


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _json_metadata(entry: dict[str, Any]) -> bool | dict[str, str]:
    # PyPI also sends "data-dist-info-metadata" (its name before PEP 714 fixed it).
    for key in ("core-metadata", "dist-info-metadata", "data-dist-info-metadata"):
        if key in entry:
            value = entry[key]
            if isinstance(value, dict):
                return {str(k).lower(): str(v).lower() for k, v in value.items()}
            return value is True
    return False


def _json_yanked(value: Any) -> bool | str:
    if isinstance(value, str):
        return value or True
    return value is True


def _json_link(entry: dict[str, Any]) -> Link:
    hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
    url = urldefrag(entry["url"])[0]
    filename = entry.get("filename") if isinstance(entry.get("filename"), str) else None
    size = entry.get("size")
    requires = entry.get("requires-python")
    provenance = entry.get("provenance")
    return Link(
        filename or _filename_of(url),
        url,
        {str(k).lower(): str(v).lower() for k, v in (hashes or {}).items()},
        _time(entry.get("upload-time")),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        requires_python=requires if isinstance(requires, str) and requires else None,
        yanked=_json_yanked(entry.get("yanked")),
        core_metadata=_json_metadata(entry),
        provenance=provenance if isinstance(provenance, str) and provenance else None,
    )


def read_json(text: str, max_links: int = _UNBOUNDED) -> Page:
    """A PEP 691 project page, with PEP 700 and PEP 708 fields.

    Raises:
        PageError: not JSON, not an object, an API version other than 1.x, more than
            ``max_links`` files (or objects enough for them).
    """
    # A file is at most three objects (itself, its hashes, its metadata's hashes).
    data = _load(text, 3 * max_links + 16)
    files = data.get("files", [])
    if not isinstance(files, list):
        raise PageError("its 'files' is not a list")
    entries = [e for e in files if isinstance(e, dict) and isinstance(e.get("url"), str)]
    if len(entries) > max_links:
        raise PageError(f"more than {max_links} links")
    name = data.get("name")
    return Page(
        [_json_link(e) for e in entries],
        name=name if isinstance(name, str) else None,
        versions=_strings(data.get("versions")),
        tracks=_strings(data.get("tracks")),
        alternate_locations=_strings(data.get("alternate-locations")),
    )


def json_links(text: str) -> list[Link]:
    """The files of a PEP 691 project page, with PEP 700 upload times."""
    return read_json(text).links


def json_projects(text: str) -> list[str]:
    """The project names of a PEP 691 root page."""
    return [
        p["name"]
        for p in _load(text).get("projects", [])
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    ]


def preferred_hash(hashes: dict[str, str]) -> tuple[str, str] | None:
    """The hash to check a file against: sha256 when given, else the first one listed."""
    if "sha256" in hashes:
        return "sha256", hashes["sha256"]
    for name, value in hashes.items():
        return name, value
    return None
