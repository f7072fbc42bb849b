"""One bounded HTTP request to an upstream: a total deadline from the name lookup to the last
byte (``tufpi.http.deadline``, under httpx), a few redirects and only to http(s), the body
read to a cap on its decoded bytes (``tufpi.http.decoding``), and every failure worded as an
``UpstreamError`` that names the upstream, what was asked for, and what went wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Literal

import httpx

from tufpi.http import Decoder, EncodingError, deadline_at, raw_limit
from tufpi.upstream.errors import UpstreamError
from tufpi.upstream.listing import shown

__all__ = ["Budget", "Transfer", "size_text"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# How a connection the server had already closed fails: before any byte of an answer.
_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
Phase = Literal["connect", "head", "body"]


@dataclasses.dataclass(frozen=True)
class Budget:
    """What one request may take: seconds to connect, of silence while reading, in all
    (redirects included), and how many redirects it follows."""

    connect_seconds: float
    read_seconds: float
    total_seconds: float
    max_redirects: int


def size_text(size: int) -> str:
    """A byte count in plain words: ``20 MiB`` when it is whole mebibytes, else bytes."""
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size >= mib and size % mib == 0 else f"{size} bytes"


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Transfer:
    """One request of ``what`` (``"the page of 'demo'"``, ``"file demo-1.0.tar.gz"``) to
    ``upstream``, under one deadline set when it is made."""

    def __init__(
        self,
        http: httpx.Client,
        upstream: str,
        what: str,
        budget: Budget,
        auth_for: Callable[[str], httpx.Auth | None],
    ) -> None:
        self.http = http
        self.upstream = upstream
        self.what = what
        self.budget = budget
        self.auth_for = auth_for
        self.started = time.monotonic()
        self.deadline = self.started + budget.total_seconds
        self.phase: Phase = "connect"
        self.received = 0

    def fail(self, detail: str, *, timed_out: bool = False, too_big: bool = False) -> UpstreamError:
        """The error for ``detail``, about this request."""
        return UpstreamError(
            self.upstream, f"{detail} ({self.what})", timed_out=timed_out, too_big=too_big
        )

    def _late(self) -> UpstreamError:
        elapsed = time.monotonic() - self.started
        if self.phase == "connect":
            detail = f"did not accept a connection in {elapsed:.1f} s"
        elif self.phase == "head" or self.received == 0:
            detail = f"did not answer in {elapsed:.1f} s"
        else:
            detail = (
                f"sent {self.received} bytes in {elapsed:.1f} s and had not finished by the "
                f"{_seconds(self.budget.total_seconds)} allowed"
            )
        return self.fail(detail, timed_out=True)

    @contextlib.contextmanager
    def _network(self) -> Iterator[None]:
        """One synchronous network step under the deadline, httpx's errors worded."""
        try:
            with deadline_at(self.deadline):
                yield
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            self.phase = "connect"
            raise self._late() from e
        except httpx.TimeoutException as e:
            raise self._late() from e
        except httpx.ConnectError as e:
            raise self.fail(f"could not be reached: {shown(str(e))}") from e
        except httpx.HTTPError as e:
            raise self.fail(f"broke off the exchange: {shown(str(e) or type(e).__name__)}") from e
        if time.monotonic() > self.deadline:
            raise self._late()

    def _timeout(self) -> httpx.Timeout:
        left = max(0.001, self.deadline - time.monotonic())
        return httpx.Timeout(
            connect=min(self.budget.connect_seconds, left),
            read=min(self.budget.read_seconds, left),
            write=min(self.budget.read_seconds, left),
            pool=left,
        )

    def _send_once(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        self.phase = "connect"
        with self._network():
            request = self.http.build_request(method, url, headers=headers, timeout=self._timeout())
            # The phase moves to "head" once httpcore has a connection; httpx does not say
            # when, so a connect timeout tells them apart instead (see _network).
            self.phase = "head"
            return self.http.send(request, stream=True, auth=self.auth_for(url))

    def _send(self, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
        """Send the request; once more, within the same deadline, when the connection broke
        before any answer: a kept-alive connection the server closed while it sat in the pool
        fails so (GET and HEAD may be repeated, RFC 9110 9.2.2)."""
        try:
            return self._send_once(method, url, headers)
        except UpstreamError as e:
            if not isinstance(e.__cause__, _STALE):
                raise
        return self._send_once(method, url, headers)

    def _next_hop(self, url: str, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise self.fail(f"answered {response.status_code} with no Location")
        try:
            target = str(httpx.URL(url).join(location))
            scheme = httpx.URL(target).scheme
        except (httpx.InvalidURL, ValueError) as e:
            raise self.fail(f"redirected to {shown(location)}, which is not a URL") from e
        if scheme not in ("http", "https"):
            raise self.fail(f"redirected to {shown(location)}, which is not an http(s) URL")
        if httpx.URL(url).scheme == "https" and scheme == "http":
            raise self.fail(f"redirected from https to {shown(target)} (plain http)")
        return target

    @contextlib.contextmanager
    def response(self, method: str, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """The response to ``method url`` once it is not a redirect (redirects followed,
        ``max_redirects`` at most, to http(s) only and never from https to http), its body
        still unread; closed when the block ends. The caller checks its status.

        Raises:
            UpstreamError: unreachable, too slow, a redirect refused or one too many.
        """
        for _hop in range(self.budget.max_redirects + 1):
            response = self._send(method, url, headers)
            if response.status_code not in _REDIRECTS:
                try:
                    yield response
                finally:
                    response.close()
                return
            response.close()
            url = self._next_hop(url, response)
        raise self.fail(f"redirected more than {self.budget.max_redirects} times")

    def read(
        self, response: httpx.Response, limit: int, sink: Callable[[bytes], object], decode: bool
    ) -> int:
        """Pass the body of ``response`` to ``sink`` piece by piece, ``limit`` bytes at most
        (decoded, when ``decode``: gzip undone, inflated to the limit and no further; else as
        sent); the number of bytes passed.

        Raises:
            UpstreamError: more than ``limit`` bytes, past the deadline, a bad encoding.
        """
        self.phase = "body"
        decoder = self._decoder(response, limit, decode)
        raw_cap = raw_limit(limit)
        passed = 0
        chunks = response.iter_raw()
        while True:
            with self._network():
                raw = next(chunks, None)
            if raw is None:
                break
            self.received += len(raw)
            if self.received > raw_cap:
                raise self.fail(f"sent more than {size_text(limit)}", too_big=True)
            pieces = decoder.decode(raw) if decoder is not None else iter((raw,))
            try:
                for piece in pieces:
                    passed += len(piece)
                    if passed > limit:
                        raise self.fail(f"sent more than {size_text(limit)}", too_big=True)
                    sink(piece)
            except EncodingError as e:
                raise self.fail(f"sent a body tufpi cannot decode: {e}") from e
        if decoder is not None:
            try:
                decoder.finish()
            except EncodingError as e:
                raise self.fail(f"sent a body tufpi cannot decode: {e}") from e
        return passed

    def _decoder(self, response: httpx.Response, limit: int, decode: bool) -> Decoder | None:
        if not decode:
            return None
        try:
            return Decoder(response.headers.get("content-encoding", ""), limit)
        except EncodingError as e:
            raise self.fail(f"sent a body tufpi cannot decode: {e}") from e
