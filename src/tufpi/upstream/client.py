"""Read upstream simple indexes over HTTP, bounded: what ``model`` describes, from the network.

Every request has a total deadline (from the name lookup to the last byte: a response head
that never comes or a body that trickles a byte at a time is cut at it), a cap on its
decoded bytes (gzip inflating past the cap is cut as it inflates), follows at most a few
redirects and only to http(s) URLs, and every failure is an ``UpstreamError`` naming the
upstream and the cause (``transfer``). Nothing partial is returned: a page is parsed only
once all of it arrived within the bounds, a file's digests are returned only once its bytes
matched the sha256 (and size) its page listed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from tufpi.http import bound_transports
from tufpi.index.names import is_valid_project_name, normalize
from tufpi.index.upload import Digests, digests_of, new_hashers
from tufpi.upstream import pages
from tufpi.upstream.listing import project_of, shown
from tufpi.upstream.model import PageBody, Received, UpstreamFile, UpstreamProject
from tufpi.upstream.transfer import Budget, Transfer, size_text

__all__ = [
    "DEFAULT_BOUNDS",
    "Digests",
    "Upstream",
    "UpstreamBounds",
    "Upstreams",
    "split_credentials",
]

MiB = 1024 * 1024
# Pages may come gzipped (decoded to the page cap); files come as they are stored, as pip
# asks for them: a server that gzips a .tar.gz on the fly would otherwise change its bytes.
_PAGE_ENCODING = "gzip"
_FILE_ENCODING = "identity"
_HTML_TYPES = frozenset({pages.HTML_TYPE, "text/html"})
_OK = 200
_NOT_FOUND = 404


@dataclasses.dataclass(frozen=True)
class UpstreamBounds:
    """How much time and how many bytes one upstream request may take.

    Attributes:
        connect_seconds: to connect (each address), TLS included.
        read_seconds: the longest silence while a response is read.
        page_seconds: total for a project page, redirects included (name lookup to last byte).
        file_seconds: total for one file download (or its metadata file, or a HEAD).
        page_max_bytes: a page's decoded bytes (after gzip).
        file_max_bytes: a file's bytes (tufpi's own upload limit is the natural value).
        metadata_max_bytes: a PEP 658 metadata file's decoded bytes.
        max_files: links on one page; a page listing more is refused as a whole.
        max_redirects: redirects followed per request (http and https only, never from
            https to http).
    """

    connect_seconds: float = 10.0
    read_seconds: float = 10.0
    page_seconds: float = 30.0
    file_seconds: float = 600.0
    page_max_bytes: int = 20 * MiB
    file_max_bytes: int = 1024 * MiB
    metadata_max_bytes: int = 10 * MiB
    max_files: int = 100_000
    max_redirects: int = 5


DEFAULT_BOUNDS = UpstreamBounds()


def split_credentials(source: str) -> tuple[str, httpx.BasicAuth | None]:
    """An http(s) ``source`` without its userinfo, and the userinfo as Basic auth (None
    without): the credentials ride only in the Authorization header, never in a URL that is
    printed (a report, an error). Anything else is returned as it is."""
    if urlsplit(source).scheme not in ("http", "https"):
        return source, None
    url = httpx.URL(source)
    if not url.userinfo:
        return source, None
    return str(url.copy_with(username=None, password=None)), httpx.BasicAuth(
        url.username, url.password
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _same_digest(actual: str, expected: str) -> bool:
    return hmac.compare_digest(actual.encode(), expected.encode())


class Upstream:
    """One upstream simple index, by its simple API base URL (``https://pypi.org/simple/``).

    Credentials in the URL (``https://user:token@host/simple/``) are taken out of it: they are
    sent, as HTTP Basic auth, only to the upstream's own origin (never to a file host such as
    files.pythonhosted.org), and never appear in a message.
    """

    def __init__(
        self,
        base_url: str,
        bounds: UpstreamBounds = DEFAULT_BOUNDS,
        http: httpx.Client | None = None,
    ) -> None:
        """``http``: a client to share (its transports are put under the request deadline);
        one of its own, closed by ``close``, when None.

        Raises:
            ValueError: ``base_url`` is not an http(s) URL.
        """
        try:
            url, auth = split_credentials(base_url)
            parsed = httpx.URL(url)
        except httpx.InvalidURL as e:
            # Not shown: the text may hold credentials.
            raise ValueError("an upstream must be an http(s) URL: this one cannot be parsed") from e
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"an upstream must be an http(s) URL, not {shown(url)}")
        self.base_url = url if url.endswith("/") else url + "/"
        self.bounds = bounds
        self._auth = auth
        self._origin = _origin(parsed)
        self._own = http is None
        self.http = http if http is not None else httpx.Client(follow_redirects=False)
        bound_transports(self.http)

    def _auth_for(self, url: str) -> httpx.Auth | None:
        if self._auth is None or _origin(httpx.URL(url)) != self._origin:
            return None
        return self._auth

    def _transfer(self, what: str, seconds: float) -> Transfer:
        budget = Budget(
            self.bounds.connect_seconds,
            self.bounds.read_seconds,
            seconds,
            self.bounds.max_redirects,
        )
        return Transfer(self.http, self.base_url, what, budget, self._auth_for)

    def project(self, normalized_name: str) -> UpstreamProject | None:
        """The project page of ``normalized_name`` (PEP 691 JSON asked for first, PEP 503 HTML
        accepted); None when upstream answers 404 (it does not have the project).

        Raises:
            ValueError: ``normalized_name`` is not a normalised project name.
            UpstreamError: unreachable, too slow, another status than 200/404, too big, not
                a simple API page, a page of another project, too many links.
        """
        valid = is_valid_project_name(normalized_name)
        if not valid or normalize(normalized_name) != normalized_name:
            raise ValueError(f"not a normalised project name: {shown(normalized_name)}")
        transfer = self._transfer(f"the page of {normalized_name!r}", self.bounds.page_seconds)
        url = f"{self.base_url}{normalized_name}/"
        body = self._page(transfer, url, self.bounds.page_max_bytes)
        if body is None:
            return None
        page = self._parse(transfer, body)
        return project_of(page, normalized_name, body.url, self.base_url)

    def page(
        self, url: str, what: str, max_bytes: int | None = None, seconds: float | None = None
    ) -> PageBody:
        """Any page of this index at ``url`` (its root, a project page), unparsed: read as a
        project page is, within ``max_bytes`` decoded bytes and ``seconds`` in all (the
        page bounds when None). ``what`` names it in an error (``"the page of 'demo'"``).

        Raises:
            UpstreamError: unreachable, too slow, another status than 200, too big.
        """
        transfer = self._transfer(what, seconds or self.bounds.page_seconds)
        body = self._page(transfer, url, max_bytes or self.bounds.page_max_bytes)
        if body is None:
            raise transfer.fail(f"answered {_NOT_FOUND}")
        return body

    @staticmethod
    def _page(transfer: Transfer, url: str, limit: int) -> PageBody | None:
        """The page at ``url`` (None when upstream answers 404)."""
        headers = {"accept": pages.ACCEPT, "accept-encoding": _PAGE_ENCODING}
        content = bytearray()
        with transfer.response("GET", url, headers) as response:
            if response.status_code == _NOT_FOUND:
                return None
            if response.status_code != _OK:
                raise transfer.fail(f"answered {response.status_code}")
            transfer.read(response, limit, content.extend, decode=True)
            content_type = response.headers.get("content-type", "")
            return PageBody(str(response.url), content_type, bytes(content))

    def _parse(self, transfer: Transfer, body: PageBody) -> pages.Page:
        kind = body.content_type.partition(";")[0].strip().lower()
        not_simple = "sent a page that is not a simple API page"
        if kind not in _HTML_TYPES and kind != pages.JSON_TYPE:
            shown_type = shown(body.content_type)
            raise transfer.fail(f"{not_simple}: its content type is {shown_type!r}")
        try:
            text = pages.page_text(body.content, body.content_type)
            if kind == pages.JSON_TYPE:
                return pages.read_json(text, self.bounds.max_files)
            return pages.read_html(text, self.bounds.max_files)
        except pages.PageError as e:
            raise transfer.fail(f"{not_simple}: {e}") from e

    def download(self, file: UpstreamFile, out: BinaryIO) -> Digests:
        """Stream ``file`` into ``out``, hashing it; the digests once its bytes matched.

        ``out`` holds what arrived even when this raises: the caller discards it.

        Raises:
            UpstreamError: unreachable, too slow, not 200, more than ``file_max_bytes`` or
                than its listed size, a sha256 or a size other than its page lists.
        """
        transfer = self._transfer(f"file {file.filename}", self.bounds.file_seconds)
        limit = self.bounds.file_max_bytes
        if file.size is not None:
            if file.size > limit:  # refused before a byte is fetched
                raise transfer.fail(
                    f"lists it at {file.size} bytes, more than the {size_text(limit)} allowed"
                )
            limit = file.size
        hashers = new_hashers()

        def sink(piece: bytes) -> None:
            for h in hashers.values():
                h.update(piece)
            out.write(piece)

        received = self._stream(transfer, file.url, limit, sink)
        digests = digests_of(hashers, received.size)
        self._check(transfer, file, digests)
        return digests

    def fetch(self, url: str, what: str, out: BinaryIO, max_bytes: int) -> Received:
        """Stream the file at ``url`` into ``out`` as sent (never decoded), ``max_bytes`` at
        most and within the file bounds; checking it is the caller's. ``out`` holds what
        arrived even when this raises: the caller discards it.

        Raises:
            UpstreamError: unreachable, too slow, not 200, more than ``max_bytes``.
        """
        transfer = self._transfer(what, self.bounds.file_seconds)
        return self._stream(transfer, url, max_bytes, out.write)

    @staticmethod
    def _stream(
        transfer: Transfer, url: str, limit: int, sink: Callable[[bytes], object]
    ) -> Received:
        headers = {"accept-encoding": _FILE_ENCODING}
        with transfer.response("GET", url, headers) as response:
            if response.status_code != _OK:
                raise transfer.fail(f"answered {response.status_code}")
            size = transfer.read(response, limit, sink, decode=False)
            return Received(size, response.headers.get("last-modified"))

    @staticmethod
    def _check(transfer: Transfer, file: UpstreamFile, digests: Digests) -> None:
        if file.size is not None and digests.size != file.size:
            raise transfer.fail(f"sent {digests.size} bytes, its page said {file.size}")
        if not _same_digest(digests.sha256, file.sha256):
            raise transfer.fail(
                f"sent bytes whose sha256 is {digests.sha256}, its page said {file.sha256}"
            )

    def core_metadata(self, file: UpstreamFile) -> bytes:
        """The PEP 658 metadata file of ``file``, checked against ``core_metadata_sha256``.

        Raises:
            UpstreamError: ``file`` has no ``core_metadata_sha256``, or as ``download``.
        """
        transfer = self._transfer(f"the metadata of {file.filename}", self.bounds.file_seconds)
        expected = file.core_metadata_sha256
        if expected is None:
            raise transfer.fail("lists no sha256 for it, so it cannot be checked")
        body = bytearray()
        headers = {"accept-encoding": _PAGE_ENCODING}
        with transfer.response("GET", file.core_metadata_url, headers) as response:
            if response.status_code != _OK:
                raise transfer.fail(f"answered {response.status_code}")
            transfer.read(response, self.bounds.metadata_max_bytes, body.extend, decode=True)
        actual = hashlib.sha256(body).hexdigest()
        if not _same_digest(actual, expected):
            raise transfer.fail(f"sent bytes whose sha256 is {actual}, its page said {expected}")
        return bytes(body)

    def size_of(self, file: UpstreamFile) -> int | None:
        """``file.size``, or the Content-Length of a bounded HEAD when the page gave no
        size; None when upstream says none.

        Raises:
            UpstreamError: unreachable, too slow, not 200.
        """
        if file.size is not None:
            return file.size
        transfer = self._transfer(f"the size of {file.filename}", self.bounds.page_seconds)
        headers = {"accept-encoding": _FILE_ENCODING}
        with transfer.response("HEAD", file.url, headers) as response:
            if response.status_code != _OK:
                raise transfer.fail(f"answered {response.status_code}")
            length = response.headers.get("content-length", "")
        return int(length) if length.isascii() and length.isdigit() else None

    def close(self) -> None:
        """Close the HTTP client, if it is this object's own."""
        if self._own:
            self.http.close()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Upstreams:
    """The configured upstreams, in order of preference."""

    def __init__(
        self,
        urls: Sequence[str],
        bounds: UpstreamBounds = DEFAULT_BOUNDS,
        http: httpx.Client | None = None,
    ) -> None:
        """One ``Upstream`` per URL, sharing one HTTP client (``http``, or one of its own
        that ``close`` closes).

        Raises:
            ValueError: a URL is not an http(s) URL.
        """
        self._own = http is None
        self.http = http if http is not None else httpx.Client(follow_redirects=False)
        self.upstreams = tuple(Upstream(url, bounds, self.http) for url in urls)

    def project(self, normalized_name: str) -> UpstreamProject | None:
        """The project page from the first upstream, in order, that answers for it.

        An upstream that says 404 passes the question to the next one; None when every
        upstream says 404. An upstream that fails ends the search with its error, even when
        a later one might have the name: the order is a preference, and a later (public)
        upstream must not answer for a name because an earlier (private) one is down.

        Raises:
            UpstreamError: the first upstream that failed before one had the project.
        """
        for upstream in self.upstreams:
            found = upstream.project(normalized_name)
            if found is not None:
                return found
        return None

    def of(self, project: UpstreamProject) -> Upstream:
        """The upstream ``project`` was read from (to download its files).

        Raises:
            KeyError: ``project`` came from none of these upstreams.
        """
        found = self.named(project.upstream)
        if found is None:
            raise KeyError(project.upstream)
        return found

    def named(self, base_url: str) -> Upstream | None:
        """The configured upstream whose base URL is ``base_url`` (as ``Upstream.base_url``
        gives it; credentials and a missing trailing "/" do not matter); None when none is
        (any more): a file recorded from an upstream since removed is not fetched."""
        try:
            url = split_credentials(base_url)[0]
        except httpx.InvalidURL:
            return None
        wanted = url if url.endswith("/") else url + "/"
        return next((u for u in self.upstreams if u.base_url == wanted), None)

    def close(self) -> None:
        """Close the shared HTTP client, if it is this object's own."""
        if self._own:
            self.http.close()

    def __enter__(self) -> Upstreams:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
