"""The fetcher's errors, with what a refusal must say of them (pure: no I/O, no HTTP library).

Each is a python-tuf download error, so ngclient handles it as its own (a 403/404 for the
next root ends the root update; anything else fails the refresh), and carries the figures
``refusals`` turns into plain words: what arrived in how long, which limit was passed and
whether the signed metadata set it, where a redirect pointed.
"""

from __future__ import annotations

from typing import Literal

from tuf.api import exceptions

__all__ = ["BadBody", "LimitKind", "Phase", "Redirected", "SlowDownload", "TooLong"]

Phase = Literal["connect", "head", "body"]
LimitKind = Literal["signed", "cap"]


class SlowDownload(exceptions.SlowRetrievalError):
    """The download did not finish by its deadline (or went quiet for a read timeout)."""

    def __init__(self, url: str, phase: Phase, received: int, elapsed: float) -> None:
        self.url = url
        self.phase = phase
        self.received = received
        self.elapsed = elapsed
        super().__init__(f"{url}: slow retrieval: {self.summary}")

    @property
    def summary(self) -> str:
        """What arrived in how long, in plain words."""
        if self.phase == "connect":
            return f"no connection in {self.elapsed:.1f} s"
        if self.phase == "head":
            return f"no complete response head in {self.elapsed:.1f} s"
        return f"{self.received} bytes in {self.elapsed:.1f} s"


class TooLong(exceptions.DownloadLengthMismatchError):
    """More (decoded) bytes than allowed: ``kind`` says whether the limit was a length the
    signed metadata gives (the file is not the one signed) or the client's own cap (no
    signed length: the endless-data bound)."""

    def __init__(self, url: str, limit: int, kind: LimitKind, encoded: bool = False) -> None:
        self.url = url
        self.limit = limit
        self.kind = kind
        self.encoded = encoded
        what = "encoded bytes than" if encoded else "bytes than"
        super().__init__(f"{url}: more {what} the {limit} allowed ({kind} length)")


class Redirected(exceptions.DownloadHTTPError):
    """A 3xx: the client follows no redirect (a mirror must serve the bytes itself)."""

    def __init__(self, url: str, status_code: int, location: str | None) -> None:
        self.url = url
        self.location = location
        super().__init__(
            f"{url}: HTTP {status_code} is a redirect (to {location!r}), which the client "
            "does not follow",
            status_code,
        )


class BadBody(exceptions.DownloadError):
    """The body's encoding is refused (not one gzip member, bad gzip, bytes after it)."""
