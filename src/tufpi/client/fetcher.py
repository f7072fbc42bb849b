"""The client's one way onto the network: an ngclient fetcher on httpx that bounds every
download by one deadline and one size cap (slow retrieval and endless data defences), both
from ``tufpi.http`` (``deadline``, ``decoding``), which the upstream reader shares.

ngclient bounds how *much* it reads (signed lengths, metadata size caps); this fetcher
enforces those caps on the *decoded* bytes as they arrive, with decompression bounded by the
same cap (``decoding``), and bounds how *long* a download may take, from the name lookup to
the last byte of the body. The deadline reaches below httpx: every name lookup, connect, TLS
handshake, read and write of the network backend under httpcore is clamped to the time the
current download has left, and refused once it is past. So a server that answers ``103 Early
Hints`` forever (httpcore reads on past every 1xx), trickles a header line a byte at a time
or trickles the body (each read brings a byte, so a per-read timeout never fires) is cut
at the deadline.

No other module of the client imports an HTTP library (a test enforces it): they use
``http_client``, ``BoundedFetcher`` and the names below.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Generator, Iterator
from typing import IO, TypeAlias

import httpx
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface, UpdaterConfig

from tufpi.client.download_errors import (
    BadBody,
    LimitKind,
    Phase,
    Redirected,
    SlowDownload,
    TooLong,
)
from tufpi.http import Decoder, EncodingError, bound_transports, deadline_at, raw_limit

__all__ = [
    "CORE_METADATA_MAX_LENGTH",
    "UNSIGNED_PAGE_MAX_LENGTH",
    "BadBody",
    "BoundedFetcher",
    "DownloadError",
    "HttpAuth",
    "HttpClient",
    "HttpRequest",
    "HttpResponse",
    "OriginAuth",
    "Redirected",
    "SlowDownload",
    "TooLong",
    "http_client",
    "metadata_limit_kind",
]

# gzip is all we ask for (tufpi compresses metadata and pages with it), so all we decode.
_ACCEPT_ENCODING = "gzip"
# Caps for what no signed length bounds: a PEP 658 metadata file (the signed page gives its
# sha256, not its length) and the index's unsigned page (read only to add to the signed one).
CORE_METADATA_MAX_LENGTH = 10 * 1024 * 1024
UNSIGNED_PAGE_MAX_LENGTH = 20 * 1024 * 1024

# What other client modules name instead of importing httpx.
HttpClient: TypeAlias = httpx.Client
HttpAuth: TypeAlias = httpx.Auth
HttpRequest: TypeAlias = httpx.Request
HttpResponse: TypeAlias = httpx.Response
# What the fetcher's errors are rooted in, for a caller that only reports them.
DownloadError = exceptions.DownloadError


def http_client(auth: httpx.Auth | None) -> httpx.Client:
    """The one HTTP client of a client command: credentials ride in ``auth`` (never in a
    URL), redirects are not followed (``BoundedFetcher`` refuses a 3xx), and every
    connection is bounded by the deadline of the download using it."""
    client = httpx.Client(auth=auth, follow_redirects=False)
    bound_transports(client)
    return client


Origin: TypeAlias = tuple[str, str, "int | None"]


def _origin(url: httpx.URL) -> Origin:
    return url.scheme, url.host, url.port


class OriginAuth(httpx.Auth):
    """HTTP Basic credentials (RFC 7617), each sent only to its own origin (scheme, host,
    port): never to another host a URL of the client might name."""

    def __init__(self, credentials: dict[Origin, httpx.BasicAuth]) -> None:
        self.credentials = credentials

    @classmethod
    def basic(cls, url: str, username: str, password: str) -> OriginAuth:
        """``username:password`` for the origin of ``url``."""
        return cls({_origin(httpx.URL(url)): httpx.BasicAuth(username, password)})

    @classmethod
    def merge(cls, auths: list[OriginAuth]) -> OriginAuth:
        """One auth for the origins of all of ``auths`` (the first wins for an origin)."""
        credentials: dict[Origin, httpx.BasicAuth] = {}
        for auth in reversed(auths):
            credentials.update(auth.credentials)
        return cls(credentials)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header when the request goes to an origin with credentials; send it."""
        basic = self.credentials.get(_origin(request.url))
        if basic is None:
            yield request
        else:
            yield from basic.auth_flow(request)


# ----- one download -----


def metadata_limit_kind(url: str, max_length: int, config: UpdaterConfig) -> LimitKind:
    """Whether ngclient's limit for the metadata at ``url`` is a signed length: never for
    root and timestamp (TUF signs no length for them); for snapshot and targets roles, when
    it is not ``config``'s cap (ngclient reads ``meta.length or cap``)."""
    name = url.rpartition("/")[2].removesuffix(".json")
    version, _, rest = name.partition(".")
    role = rest if version.isdigit() else name
    if role in ("root", "timestamp"):
        return "cap"
    cap = config.snapshot_max_length if role == "snapshot" else config.targets_max_length
    return "cap" if max_length == cap else "signed"


class _Download:
    """The state of one download: its deadline, what arrived, the phase it is in."""

    def __init__(self, url: str, total: float, read_timeout: float) -> None:
        self.url = url
        self.started = time.monotonic()
        self.deadline = self.started + total
        self.read_timeout = read_timeout
        self.phase: Phase = "head"
        self.received = 0

    def timeout(self) -> httpx.Timeout:
        """httpx's timeouts for the request; the pool wait too ends by the deadline."""
        left = max(0.001, self.deadline - time.monotonic())
        return httpx.Timeout(min(self.read_timeout, left))

    def slow(self) -> SlowDownload:
        return SlowDownload(self.url, self.phase, self.received, time.monotonic() - self.started)

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Run one synchronous network step under the deadline, its errors made ngclient's."""
        try:
            with deadline_at(self.deadline):
                yield
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            self.phase = "connect"
            raise self.slow() from e
        except httpx.TimeoutException as e:
            raise self.slow() from e
        except httpx.HTTPError as e:
            raise exceptions.DownloadError(f"{self.url}: {e}") from e
        if time.monotonic() > self.deadline:
            raise self.slow()


class BoundedFetcher(FetcherInterface):
    """Fetch over HTTP(S): a total deadline per download (seconds), a read timeout, and
    the caps ngclient gives (or ``get``'s), counted on decoded bytes."""

    def __init__(
        self,
        client: httpx.Client,
        read_timeout: float = 10.0,
        total_timeout: float = 60.0,
        config: UpdaterConfig | None = None,
    ) -> None:
        """``config`` holds the caps ngclient uses where the signed metadata gives no length
        (default: ngclient's defaults); they tell an endless-data refusal from a file
        longer than its signed length."""
        bound_transports(client)  # a client not from http_client too
        self.client = client
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.config = config or UpdaterConfig()

    def get(self, url: str, max_length: int, accept: str | None = None) -> bytes:
        """The body at ``url`` (HTTP 200 only), decoded, within the deadline, ``max_length``
        bytes at most: what every read of the client that is not ngclient's goes through.

        Raises:
            tuf.api.exceptions.DownloadLengthMismatchError: more than ``max_length`` bytes
                (``TooLong``).
            tuf.api.exceptions.SlowRetrievalError: past the deadline (``SlowDownload``).
            tuf.api.exceptions.DownloadHTTPError: another status than 200 (``Redirected``
                for a 3xx).
            tuf.api.exceptions.DownloadError: anything else that failed.
        """
        return b"".join(self._bounded(url, max_length, "cap", accept))

    def download_bytes(self, url: str, max_length: int) -> bytes:
        """A metadata file for ngclient, ``max_length`` decoded bytes at most."""
        kind = metadata_limit_kind(url, max_length, self.config)
        return b"".join(self._bounded(url, max_length, kind))

    @contextlib.contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO[bytes]]:
        """A target for ngclient (``max_length`` is its signed length), in a temporary file."""
        with tempfile.TemporaryFile() as file:
            for piece in self._bounded(url, max_length, "signed"):
                file.write(piece)
            file.seek(0)
            yield file

    def _fetch(self, url: str) -> Iterator[bytes]:
        # FetcherInterface's primitive, for a caller of fetch(): deadline, no length cap.
        return self._stream(url, None, None, "cap")

    def _bounded(
        self, url: str, max_length: int, kind: LimitKind, accept: str | None = None
    ) -> Iterator[bytes]:
        received = 0
        for piece in self._stream(url, max_length, accept, kind):
            received += len(piece)
            if received > max_length:
                raise TooLong(url, max_length, kind)
            yield piece

    def _stream(
        self, url: str, max_length: int | None, accept: str | None, kind: LimitKind
    ) -> Generator[bytes, None, None]:
        """The decoded body of ``url``, piece by piece; ``max_length + 1`` bytes at most."""
        download = _Download(url, self.total_timeout, self.read_timeout)
        headers = {"accept-encoding": _ACCEPT_ENCODING}
        if accept is not None:
            headers["accept"] = accept
        request = self.client.build_request("GET", url, headers=headers, timeout=download.timeout())
        with download.step():
            response = self.client.send(request, stream=True)
        try:
            download.phase = "body"
            _check_status(url, response)
            try:
                decoder = Decoder(response.headers.get("content-encoding", ""), max_length)
                yield from self._body(download, response, decoder, max_length, kind)
            except EncodingError as e:
                raise BadBody(f"{url}: {e}") from e
        finally:
            response.close()

    def _body(
        self,
        download: _Download,
        response: httpx.Response,
        decoder: Decoder,
        max_length: int | None,
        kind: LimitKind,
    ) -> Iterator[bytes]:
        raw_cap = None if max_length is None else raw_limit(max_length)
        chunks = response.iter_raw()
        while True:
            with download.step():
                raw = next(chunks, None)
            if raw is None:
                break
            download.received += len(raw)
            if raw_cap is not None and max_length is not None and download.received > raw_cap:
                raise TooLong(download.url, max_length, kind, encoded=True)
            yield from decoder.decode(raw)
        decoder.finish()


def _check_status(url: str, response: httpx.Response) -> None:
    if 300 <= response.status_code < 400:
        raise Redirected(url, response.status_code, response.headers.get("location"))
    if response.status_code != 200:
        raise exceptions.DownloadHTTPError(
            f"HTTP {response.status_code} for {url}", response.status_code
        )
