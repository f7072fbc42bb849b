"""Read simple API pages (PEP 503 HTML, PEP 691 JSON): pure, text in, links out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# PEP 691: ask for JSON, accept HTML from an index that does not offer it.
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


class PageError(Exception):
    """A page is not a simple API page we can read."""


@dataclasses.dataclass(frozen=True)
class Link:
    """One file listed on a project page.

    ``href`` is as written on the page (resolve it against the page's URL); ``hashes`` maps
    hashlib names to hex digests; ``upload_time`` is PEP 700's, when given.
    """

    filename: str
    href: str
    hashes: dict[str, str]
    upload_time: dt.datetime | None = None


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _anchors(html: str) -> list[tuple[dict[str, str | None], str]]:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser.anchors


def _fragment_hash(href: str) -> tuple[str, dict[str, str]]:
    """PEP 503: a URL fragment ``#<hashname>=<hex>`` names the file's hash."""
    url, fragment = urldefrag(href)
    name, sep, value = fragment.partition("=")
    return url, ({name.lower(): value.lower()} if sep and name and value else {})


def _filename_of(url: str) -> str:
    return unquote(urlsplit(url).path.rpartition("/")[2])


def html_links(html: str) -> list[Link]:
    """The files of a PEP 503 project page (the anchor's URL names the file)."""
    links = []
    for attrs, text in _anchors(html):
        href = attrs.get("href")
        if not href:
            continue
        url, hashes = _fragment_hash(href)
        links.append(Link(_filename_of(url) or text, url, hashes))
    return links


def html_projects(html: str) -> list[str]:
    """The project names of a PEP 503 root page (the anchors' text)."""
    return [text for attrs, text in _anchors(html) if attrs.get("href") and text]


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


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise PageError(f"not JSON: {e}") from e
    if not isinstance(data, dict):
        raise PageError("not a PEP 691 object")
    return data


def json_links(text: str) -> list[Link]:
    """The files of a PEP 691 project page, with PEP 700 upload times."""
    links = []
    for entry in _load(text).get("files", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
        url = urldefrag(entry["url"])[0]
        filename = entry.get("filename") if isinstance(entry.get("filename"), str) else None
        links.append(
            Link(
                filename or _filename_of(url),
                url,
                {str(k).lower(): str(v).lower() for k, v in (hashes or {}).items()},
                _time(entry.get("upload-time")),
            )
        )
    return links


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
