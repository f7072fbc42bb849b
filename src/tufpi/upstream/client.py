"""Read upstream simple indexes over HTTP, bounded: what ``model`` describes, from the network.

Every request has a total deadline (from the name lookup to the last byte: a response head
that never comes or a body that trickles a byte at a time is cut at it), a cap on its
decoded bytes (gzip inflating past the cap is cut as it inflates), follows at most a few
redirects and only to http(s) URLs, and every failure is an ``UpstreamError`` naming the
upstream and the cause. Nothing partial is returned: a page is parsed only once all of it
arrived within the bounds, a file's digests are returned only once its bytes matched the
sha256 (and size) its page listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import BinaryIO

import httpx

from tufpi.index.upload import Digests
from tufpi.upstream.model import UpstreamFile, UpstreamProject

__all__ = ["Digests", "Upstream", "UpstreamBounds", "Upstreams"]

MiB = 1024 * 1024


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


class Upstream:
    """One upstream simple index, by its simple API base URL (``https://pypi.org/simple/``).

    Credentials in the URL (``https://user:token@host/simple/``) are taken out of it: they are
    sent, as HTTP Basic auth, only to the upstream's own origin (never to a file host such as
    files.pythonhosted.org), and never appear in a message.
    """

    def __init__(
        self, base_url: str, bounds: UpstreamBounds = UpstreamBounds(), http: httpx.Client | None = None
    ) -> None:
        """``http``: a client to share (its transports are bounded by the request deadline);
        one of its own, closed by ``close``, when None.

        Raises:
            ValueError: ``base_url`` is not an http(s) URL.
        """
        raise NotImplementedError

    base_url: str  # with a trailing "/", without credentials

    def project(self, normalized_name: str) -> UpstreamProject | None:
        """The project page of ``normalized_name`` (PEP 691 JSON asked for first, PEP 503 HTML
        accepted); None when upstream answers 404 (it does not have the project).

        Raises:
            UpstreamError: unreachable, too slow, another status than 200/404, too big, not
                a simple API page, a page of another project, too many links.
        """
        raise NotImplementedError

    def download(self, file: UpstreamFile, out: BinaryIO) -> Digests:
        """Stream ``file`` into ``out``, hashing it; the digests once its bytes matched.

        ``out`` holds what arrived even when this raises: the caller discards it.

        Raises:
            UpstreamError: unreachable, too slow, not 200, more than ``file_max_bytes`` or
                than its listed size, a sha256 or a size other than its page lists.
        """
        raise NotImplementedError

    def core_metadata(self, file: UpstreamFile) -> bytes:
        """The PEP 658 metadata file of ``file``, checked against ``core_metadata_sha256``.

        Raises:
            UpstreamError: ``file`` has no ``core_metadata_sha256``, or as ``download``.
        """
        raise NotImplementedError

    def size_of(self, file: UpstreamFile) -> int | None:
        """``file.size``, or the Content-Length of a bounded HEAD when the page gave no
        size; None when upstream says none.

        Raises:
            UpstreamError: unreachable, too slow, not 200.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Close the HTTP client, if it is this object's own."""
        raise NotImplementedError


class Upstreams:
    """The configured upstreams, in order of preference."""

    def __init__(
        self,
        urls: Sequence[str],
        bounds: UpstreamBounds = UpstreamBounds(),
        http: httpx.Client | None = None,
    ) -> None:
        """One ``Upstream`` per URL, sharing one HTTP client."""
        raise NotImplementedError

    def project(self, normalized_name: str) -> UpstreamProject | None:
        """The project page from the first upstream, in order, that answers for it.

        An upstream that says 404 passes the question to the next one; None when every
        upstream says 404. An upstream that fails ends the search with its error, even when
        a later one might have the name: the order is a preference, and a later (public)
        upstream must not answer for a name because an earlier (private) one is down.

        Raises:
            UpstreamError: the first upstream that failed before one had the project.
        """
        raise NotImplementedError

    def of(self, project: UpstreamProject) -> Upstream:
        """The upstream ``project`` was read from (to download its files).

        Raises:
            KeyError: ``project`` came from none of these upstreams.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Close the shared HTTP client."""
        raise NotImplementedError
