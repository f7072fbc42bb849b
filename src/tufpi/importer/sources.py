"""Where an import reads from: a directory of files (pypiserver), a static PEP 503 mirror
(bandersnatch), or another index's simple API. Each lists candidates and fetches them.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import email.utils
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from tufpi.clock import Clock, utcnow
from tufpi.importer.inspect import Rejection, parse_filename
from tufpi.importer.model import Candidate, Group, Skipped, SkipReason
from tufpi.index.names import normalize
from tufpi.upstream import pages as links
from tufpi.upstream import split_credentials

Kind = Literal["dir", "mirror", "url"]
KINDS: tuple[Kind, ...] = ("dir", "mirror", "url")
# Project pages read at once from an index.
_PAGE_CONCURRENCY = 8


class SourceError(Exception):
    """The source cannot be read at all (not a single file of it)."""


class FetchError(Exception):
    """One file could not be fetched."""


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A candidate's content as a local file; ``temporary`` files are deleted once written."""

    path: Path
    upload_time: dt.datetime
    temporary: bool = False


class Source(Protocol):
    """What the import needs of a source."""

    description: str

    def discover(self) -> Iterator[Candidate | Skipped]:
        """Every file the source offers, or why one cannot be taken."""

    def fetch(self, candidate: Candidate, staging: Path) -> Fetched:
        """The candidate's content as a local file. Raises FetchError."""

    def close(self) -> None:
        """Release connections."""


def _candidate(
    location: str,
    filename: str,
    project: str | None = None,
    link: links.Link | None = None,
) -> Candidate | Skipped:
    parsed = parse_filename(filename)
    if isinstance(parsed, Rejection):
        return Skipped(location, parsed.reason, parsed.detail)
    if project is not None and parsed.name != normalize(project):
        return Skipped(
            location,
            SkipReason.WRONG_PROJECT,
            f"listed on {project!r}'s page but named for {parsed.name!r}",
        )
    if link is None:
        return Candidate(location, parsed)
    return Candidate(location, parsed, links.preferred_hash(link.hashes), link.upload_time)


def _mtime(path: Path) -> dt.datetime:
    # The file's modification time stands for its upload time: the same on every run.
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


class _LocalFetch:
    def fetch(self, candidate: Candidate, staging: Path) -> Fetched:
        path = Path(candidate.location)
        try:
            return Fetched(path, candidate.upload_time or _mtime(path))
        except OSError as e:
            raise FetchError(str(e)) from e

    def close(self) -> None:
        return None


class DirectorySource(_LocalFetch):
    """A tree of distribution files, as pypiserver keeps them: the project comes from each
    filename, wherever below the root the file is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"directory {root}"

    def discover(self) -> Iterator[Candidate | Skipped]:
        for directory, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield _candidate(os.path.join(directory, name), name)


def mirror_pages(root: Path) -> Path | None:
    """The ``simple`` directory of a bandersnatch mirror rooted at ``root``, if it is one."""
    for simple in (root / "web" / "simple", root / "simple"):
        if simple.is_dir():
            return simple
    return None


class MirrorSource(_LocalFetch):
    """A static PEP 503 mirror: names and hashes from ``simple/<project>/index.html``, files
    where the pages' relative links point (bandersnatch's ``packages/``)."""

    def __init__(self, root: Path) -> None:
        simple = mirror_pages(root)
        if simple is None:
            raise SourceError(f"{root} has no web/simple/ or simple/ directory")
        self.root = simple.parent.resolve()
        self.simple = simple.resolve()
        self.description = f"mirror {root}"

    def _pages(self) -> list[Path]:
        # simple/<project>/index.html, or simple/<p>/<project>/index.html (hash-index).
        return sorted([*self.simple.glob("*/index.html"), *self.simple.glob("*/*/index.html")])

    def discover(self) -> Iterator[Candidate | Skipped]:
        for page in self._pages():
            project = page.parent.name
            try:
                listed = links.html_links(page.read_text(encoding="utf-8", errors="replace"))
            except OSError as e:
                yield Skipped(str(page), SkipReason.UNREADABLE, str(e))
                continue
            for link in listed:
                yield self._local(page.parent, project, link)

    def _local(self, page_dir: Path, project: str, link: links.Link) -> Candidate | Skipped:
        target = Path(os.path.normpath(page_dir / unquote(urlsplit(link.href).path)))
        if urlsplit(link.href).scheme or not target.is_relative_to(self.root):
            return Skipped(link.href, SkipReason.UNREADABLE, "the link leaves the mirror")
        if not target.is_file():
            return Skipped(str(target), SkipReason.UNREADABLE, "listed, but no such file")
        return _candidate(str(target), link.filename, project, link)


class UrlSource:
    """Another index, by its simple API URL: PEP 691 JSON when offered, else PEP 503 HTML.

    Files are downloaded into the staging directory and checked against the listed hash.
    """

    def __init__(self, url: str, timeout: float = 60.0, clock: Clock = utcnow) -> None:
        url, auth = split_credentials(url)
        # The upload time of a file the index gives no date for: when it was fetched.
        self.clock = clock
        self.url = url if url.endswith("/") else url + "/"
        self.description = f"index {self.url}"
        # httpx drops the credentials on a redirect to another origin.
        self.client = httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"Accept": links.ACCEPT}, auth=auth
        )

    def _get(self, url: str) -> httpx.Response:
        try:
            response = self.client.get(url)
            response.raise_for_status()
        except httpx.HTTPError as e:
            raise SourceError(f"{url}: {e}") from e
        return response

    @staticmethod
    def _is_json(response: httpx.Response) -> bool:
        return str(response.headers.get("content-type", "")).startswith(links.JSON_TYPE)

    def _projects(self) -> list[str]:
        response = self._get(self.url)
        if self._is_json(response):
            return links.json_projects(response.text)
        return links.html_projects(response.text)

    def _page(self, project: str) -> list[Candidate | Skipped]:
        page_url = urljoin(self.url, f"{normalize(project)}/")
        try:
            response = self._get(page_url)
            found = (links.json_links if self._is_json(response) else links.html_links)(
                response.text
            )
        except (SourceError, links.PageError) as e:
            return [Skipped(page_url, SkipReason.UNREADABLE, str(e))]
        return [
            _candidate(urljoin(str(response.url), link.href), link.filename, project, link)
            for link in found
        ]

    def discover(self) -> Iterator[Candidate | Skipped]:
        projects = self._projects()
        with concurrent.futures.ThreadPoolExecutor(_PAGE_CONCURRENCY) as pool:
            for found in pool.map(self._page, projects):
                yield from found

    def fetch(self, candidate: Candidate, staging: Path) -> Fetched:
        fd, name = tempfile.mkstemp(prefix="download-", dir=staging)
        path = Path(name)
        try:
            with open(fd, "wb") as out, self.client.stream("GET", candidate.location) as r:
                r.raise_for_status()
                for chunk in r.iter_bytes(1024 * 1024):
                    out.write(chunk)
                modified = r.headers.get("last-modified")
        except (httpx.HTTPError, OSError) as e:
            path.unlink(missing_ok=True)
            raise FetchError(str(e)) from e
        when = candidate.upload_time or _http_date(modified) or self.clock()
        return Fetched(path, when, temporary=True)

    def close(self) -> None:
        self.client.close()


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


def detect(source: str) -> Kind:
    """The kind of ``source``: an http(s) URL, a mirror (it has simple pages), or a directory.

    Raises:
        SourceError: neither a URL nor a directory.
    """
    if urlsplit(source).scheme in ("http", "https"):
        return "url"
    root = Path(source)
    if not root.is_dir():
        raise SourceError(f"{source} is neither an http(s) URL nor a directory")
    return "mirror" if mirror_pages(root) is not None else "dir"


def open_source(source: str, kind: Kind | None = None, clock: Clock = utcnow) -> Source:
    """The source at ``source``, of ``kind`` or of the kind detected (``clock`` dates the
    files an index serves without a date). Raises SourceError."""
    chosen = kind or detect(source)
    if chosen == "url":
        return UrlSource(source, clock=clock)
    if not Path(source).is_dir():
        raise SourceError(f"{source} is not a directory")
    if chosen == "mirror":
        return MirrorSource(Path(source))
    return DirectorySource(Path(source))


def group(found: Sequence[Candidate]) -> list[Group]:
    """Candidates by project (normalised name), projects and files in a stable order."""
    by_project: dict[str, list[Candidate]] = {}
    for c in found:
        by_project.setdefault(c.dist.name, []).append(c)
    return [
        Group(name, tuple(sorted(by_project[name], key=lambda c: (c.dist.filename, c.location))))
        for name in sorted(by_project)
    ]
