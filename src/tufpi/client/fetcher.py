"""An ngclient fetcher on httpx with a deadline per download (slow-retrieval defence).

ngclient bounds how *much* it reads (signed lengths, metadata size limits: the endless-data
defence); this fetcher bounds how *long* a download may take, so a mirror that trickles
bytes cannot stall an install indefinitely.

The deadline is checked at every read from the network, before decoding: neither a trickle
of bytes too few to fill a chunk nor a compressed body that decodes to nothing (a gzip
header whose comment never ends, which ngclient's length limits never see) escapes it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator

import httpx
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

# gzip is all we ask for (tufpi compresses metadata and pages with it), so all we decode.
_ACCEPT_ENCODING = "gzip"
# Decoded bytes per piece at most, so that a small compressed body cannot fill memory
# before ngclient's length check sees it.
_PIECE = 256 * 1024
# Caps for what no signed length bounds: a PEP 658 metadata file (the signed page gives its
# sha256, not its length) and the index's unsigned page (read only to add to the signed one).
CORE_METADATA_MAX_LENGTH = 10 * 1024 * 1024
UNSIGNED_PAGE_MAX_LENGTH = 20 * 1024 * 1024


# The HTTP client type, for modules of the client that pass one along without importing httpx.
HttpClient = httpx.Client


def http_client(auth: httpx.Auth | None) -> httpx.Client:
    """The one HTTP client of a client command: credentials ride in ``auth`` (never in a
    URL), redirects are not followed, and every read goes through ``BoundedFetcher``."""
    return httpx.Client(auth=auth, follow_redirects=False)


class _Decoder:
    """Undo one Content-Encoding (RFC 9110 8.4.1) piece by piece, ``_PIECE`` bytes at most."""

    def __init__(self, encoding: str, url: str) -> None:
        encoding = encoding.strip().lower()
        self._zlib = None
        if encoding == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise exceptions.DownloadError(f"{url}: unsupported content encoding {encoding!r}")

    def decode(self, raw: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield raw
            return
        yield self._zlib.decompress(raw, _PIECE)
        while self._zlib.unconsumed_tail:
            yield self._zlib.decompress(self._zlib.unconsumed_tail, _PIECE)

    def flush(self) -> bytes:
        return b"" if self._zlib is None else self._zlib.flush()


class BoundedFetcher(FetcherInterface):
    """Fetch over HTTP(S) with a per-read timeout and a total deadline per file (seconds)."""

    def __init__(
        self, client: httpx.Client, read_timeout: float = 10.0, total_timeout: float = 60.0
    ) -> None:
        self.client = client
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout

    def get(self, url: str, max_length: int, accept: str | None = None) -> bytes:
        """The body at ``url`` (HTTP 200 only), decoded, within the deadline, ``max_length``
        bytes at most: what every read of the client that is not ngclient's goes through.

        Raises:
            tuf.api.exceptions.DownloadLengthMismatchError: more than ``max_length`` bytes.
            tuf.api.exceptions.SlowRetrievalError: past the deadline.
            tuf.api.exceptions.DownloadHTTPError: another status than 200.
            tuf.api.exceptions.DownloadError: anything else that failed.
        """
        pieces: list[bytes] = []
        received = 0
        for piece in self._fetch(url, accept):
            received += len(piece)
            if received > max_length:
                raise exceptions.DownloadLengthMismatchError(
                    f"{url}: more than the {max_length} bytes allowed"
                )
            pieces.append(piece)
        return b"".join(pieces)

    def _fetch(self, url: str, accept: str | None = None) -> Iterator[bytes]:
        deadline = time.monotonic() + self.total_timeout
        timeout = httpx.Timeout(self.read_timeout, connect=self.read_timeout)
        headers = {"accept-encoding": _ACCEPT_ENCODING}
        if accept is not None:
            headers["accept"] = accept
        try:
            with self.client.stream("GET", url, timeout=timeout, headers=headers) as response:
                if response.status_code != 200:
                    raise exceptions.DownloadHTTPError(
                        f"HTTP {response.status_code} for {url}", response.status_code
                    )
                decoder = _Decoder(response.headers.get("content-encoding", ""), url)
                # Checked at every read from the network, however little it brought.
                for raw in response.iter_raw():
                    if time.monotonic() > deadline:
                        raise exceptions.SlowRetrievalError(
                            f"{url} took longer than {self.total_timeout:g} s"
                        )
                    yield from filter(None, decoder.decode(raw))
                if tail := decoder.flush():
                    yield tail
        except httpx.TimeoutException as e:
            raise exceptions.SlowRetrievalError(f"{url}: no data for {self.read_timeout} s") from e
        except zlib.error as e:
            raise exceptions.DownloadError(f"{url}: bad compressed body: {e}") from e
        except httpx.HTTPError as e:
            raise exceptions.DownloadError(f"{url}: {e}") from e
