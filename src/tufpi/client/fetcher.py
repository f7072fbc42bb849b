"""An ngclient fetcher on httpx with a deadline per download (slow-retrieval defence).

ngclient bounds how *much* it reads (signed lengths, metadata size limits: the endless-data
defence); this fetcher bounds how *long* a download may take, so a mirror that trickles
bytes cannot stall an install indefinitely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

_CHUNK = 256 * 1024


class BoundedFetcher(FetcherInterface):
    """Fetch over HTTP(S) with a per-read timeout and a total deadline per file."""

    def __init__(
        self, client: httpx.Client, read_timeout: float = 10.0, total_timeout: float = 60.0
    ) -> None:
        self.client = client
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout

    def _fetch(self, url: str) -> Iterator[bytes]:
        deadline = time.monotonic() + self.total_timeout
        timeout = httpx.Timeout(self.read_timeout, connect=self.read_timeout)
        try:
            with self.client.stream("GET", url, timeout=timeout) as response:
                if response.status_code != 200:
                    raise exceptions.DownloadHTTPError(
                        f"HTTP {response.status_code} for {url}", response.status_code
                    )
                for chunk in response.iter_bytes(_CHUNK):
                    if time.monotonic() > deadline:
                        raise exceptions.SlowRetrievalError(
                            f"{url} took longer than {self.total_timeout:.0f} s"
                        )
                    yield chunk
        except httpx.TimeoutException as e:
            raise exceptions.SlowRetrievalError(f"{url}: no data for {self.read_timeout} s") from e
        except httpx.HTTPError as e:
            raise exceptions.DownloadError(f"{url}: {e}") from e
