"""Where an import reads from: a directory of files (pypiserver), a static PEP 503 mirror
(bandersnatch), or another index's simple API. Each lists candidates and fetches them.

Another index is hostile input: it is read through ``tufpi.upstream.Upstream``, as a
pull-through upstream is, every page and file bounded in time (one total deadline per
request) and bytes (decoded, for a page), a file by the size its page lists (PEP 700) or
else by the index's upload limit. What a bound refuses is skipped with the reason, and the
import goes on with the rest. A page listing a filename with two different hashes has that
file skipped (``upstream.listing.conflicting``).
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
from typing import BinaryIO, Literal, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from tufpi.clock import Clock, utcnow
from tufpi.importer.inspect import Rejection, parse_filename
from tufpi.importer.model import Candidate, Group, Skipped, SkipReason
from tufpi.index.names import is_valid_project_name, normalize
from tufpi.upstream import (
    PageBody,
    Received,
    Upstream,
    UpstreamBounds,
    UpstreamError,
    listing,
)
from tufpi.upstream import pages as links

Kind = Literal["dir", "mirror", "url"]
KINDS: tuple[Kind, ...] = ("dir", "mirror", "url")
# Project pages read at once from an index.
_PAGE_CONCURRENCY = 8
# An index's root page lists every project, far more than one project's page (PyPI's is a
# few tens of MB): read once, to this many decoded bytes, within the time one file may take.
INDEX_MAX_BYTES = 64 * 1024 * 1024


class SourceError(Exception):
    """The source cannot be read at all (not a single file of it)."""


class FetchError(Exception):
    """One file could not be fetched; ``reason`` groups it in the report."""

    def __init__(self, message: str, reason: SkipReason = SkipReason.UNREADABLE) -> None:
        super().__init__(message)
        self.reason = reason


def _reason(error: UpstreamError) -> SkipReason:
    if error.timed_out:
        return SkipReason.TOO_SLOW
    if error.too_big:
        return SkipReason.TOO_BIG
    return SkipReason.UNREADABLE


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
    if link.size is not None and link.size < 0:
        return Skipped(location, SkipReason.UNREADABLE, f"its listed size {link.size} is negative")
    expected = links.preferred_hash(link.hashes)
    return Candidate(location, parsed, expected, link.upload_time, link.size)


def _hash_text(expected: tuple[str, str] | None) -> str:
    return "no hash" if expected is None else listing.shown(f"{expected[0]}:{expected[1]}")


def unambiguous(found: Sequence[Candidate | Skipped]) -> list[Candidate | Skipped]:
    """One page's candidates, a filename the page lists with different hashes (or with and
    without one) skipped once, naming them: which file is meant cannot be told. A filename
    listed again with the same hash is taken once."""
    hashes = listing.conflicting(
        (c.dist.filename, _hash_text(c.expected)) for c in found if isinstance(c, Candidate)
    )
    kept: list[Candidate | Skipped] = []
    seen: set[str] = set()
    for item in found:
        if isinstance(item, Candidate):
            name = item.dist.filename
            if name in seen:
                continue
            seen.add(name)
            if name in hashes:
                why = listing.conflict_text(hashes[name], "hash")
                kept.append(Skipped(item.location, SkipReason.AMBIGUOUS, why))
                continue
        kept.append(item)
    return kept


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
            yield from unambiguous([self._local(page.parent, project, link) for link in listed])

    def _local(self, page_dir: Path, project: str, link: links.Link) -> Candidate | Skipped:
        target = Path(os.path.normpath(page_dir / unquote(urlsplit(link.href).path)))
        if urlsplit(link.href).scheme or not target.is_relative_to(self.root):
            return Skipped(link.href, SkipReason.UNREADABLE, "the link leaves the mirror")
        if not target.is_file():
            return Skipped(str(target), SkipReason.UNREADABLE, "listed, but no such file")
        return _candidate(str(target), link.filename, project, link)


def _text(body: PageBody) -> tuple[str, bool]:
    """The page's text (in its declared charset), and whether it is PEP 691 JSON.

    Raises:
        PageError: JSON that is not UTF-8, a charset Python does not know.
    """
    is_json = body.content_type.partition(";")[0].strip().lower() == links.JSON_TYPE
    return links.page_text(body.content, body.content_type), is_json


class UrlSource:
    """Another index, by its simple API URL: PEP 691 JSON when offered, else PEP 503 HTML.

    Files are downloaded into the staging directory (checked against the listed hash once
    read); every request is bounded by ``bounds`` (``tufpi.upstream.UpstreamBounds``).
    Credentials in the URL go, as Basic auth, to the index's own origin only.
    """

    def __init__(
        self,
        url: str,
        bounds: UpstreamBounds | None = None,
        clock: Clock = utcnow,
        http: httpx.Client | None = None,
    ) -> None:
        """Raises SourceError: ``url`` is not an http(s) URL."""
        # The upload time of a file the index gives no date for: when it was fetched.
        self.clock = clock
        self.bounds = bounds or UpstreamBounds()
        try:
            self.upstream = Upstream(url, self.bounds, http)
        except ValueError as e:
            raise SourceError(str(e)) from e
        self.url = self.upstream.base_url
        self.description = f"index {self.url}"

    def _projects(self) -> list[str]:
        seconds = self.bounds.file_seconds
        try:
            body = self.upstream.page(self.url, "the list of projects", INDEX_MAX_BYTES, seconds)
            text, is_json = _text(body)
            return links.json_projects(text) if is_json else links.html_projects(text)
        except UpstreamError as e:
            raise SourceError(f"index {e.upstream} {e.detail}") from e
        except links.PageError as e:
            raise SourceError(f"{self.url} sent a list of projects tufpi cannot read: {e}") from e

    def _page(self, project: str) -> list[Candidate | Skipped]:
        if not is_valid_project_name(project):
            # Not asked for: "https://elsewhere/" would send the import to another host.
            why = f"it lists {listing.shown(project)!r}, which is not a valid project name"
            return [Skipped(self.url, SkipReason.UNREADABLE, why)]
        page_url = urljoin(self.url, f"{normalize(project)}/")
        try:
            body = self.upstream.page(page_url, f"the page of {project!r}")
            text, is_json = _text(body)
            read = links.read_json if is_json else links.read_html
            found = read(text, self.bounds.max_files).links
        except UpstreamError as e:
            return [Skipped(page_url, _reason(e), e.detail)]
        except links.PageError as e:
            return [Skipped(page_url, SkipReason.UNREADABLE, f"not a simple API page: {e}")]
        return unambiguous(
            [
                _candidate(urljoin(body.url, link.href), link.filename, project, link)
                for link in found
            ]
        )

    def discover(self) -> Iterator[Candidate | Skipped]:
        projects = self._projects()
        with concurrent.futures.ThreadPoolExecutor(_PAGE_CONCURRENCY) as pool:
            for found in pool.map(self._page, projects):
                yield from found

    def _limit(self, candidate: Candidate) -> int:
        """The most bytes ``candidate`` may have: its listed size, within the upload limit."""
        most = self.bounds.file_max_bytes
        if candidate.size is None:
            return most
        if candidate.size > most:
            raise FetchError(
                f"its page lists it at {candidate.size} bytes, more than the {most} bytes "
                "a file may have here (max_upload_bytes)",
                SkipReason.TOO_BIG,
            )
        return candidate.size

    def _download(self, candidate: Candidate, out: BinaryIO) -> Received:
        what = f"file {candidate.dist.filename}"
        try:
            got = self.upstream.fetch(candidate.location, what, out, self._limit(candidate))
        except UpstreamError as e:
            listed = "" if candidate.size is None else f"; its page lists {candidate.size} bytes"
            raise FetchError(e.detail + (listed if e.too_big else ""), _reason(e)) from e
        except OSError as e:
            raise FetchError(f"writing it failed: {e}") from e
        if candidate.size is not None and got.size != candidate.size:
            raise FetchError(f"sent {got.size} bytes, its page lists {candidate.size} ({what})")
        return got

    def fetch(self, candidate: Candidate, staging: Path) -> Fetched:
        fd, name = tempfile.mkstemp(prefix="download-", dir=staging)
        path = Path(name)
        try:
            with open(fd, "wb") as out:
                got = self._download(candidate, out)
        except BaseException:
            path.unlink(missing_ok=True)  # nothing partial stays in staging
            raise
        when = candidate.upload_time or _http_date(got.last_modified) or self.clock()
        return Fetched(path, when, temporary=True)

    def close(self) -> None:
        self.upstream.close()


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


def open_source(
    source: str,
    kind: Kind | None = None,
    clock: Clock = utcnow,
    bounds: UpstreamBounds | None = None,
) -> Source:
    """The source at ``source``, of ``kind`` or of the kind detected (``clock`` dates the
    files an index serves without a date; ``bounds`` bound reading an index). Raises
    SourceError."""
    chosen = kind or detect(source)
    if chosen == "url":
        return UrlSource(source, bounds, clock)
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
