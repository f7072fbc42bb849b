"""The one error of ``tufpi.upstream``: an upstream could not be read, or sent what tufpi
refuses. Its message always names the upstream and says in plain words what failed, for an
operator's log and for the answer a client gets (never a credential: URLs are shown without
their userinfo).
"""

from __future__ import annotations

__all__ = ["UpstreamError"]


class UpstreamError(Exception):
    """An upstream failed or misbehaved: not reachable, too slow, an error status, a page
    that is not a simple API page, more bytes than allowed, a file whose bytes are not the
    ones its page lists.

    Attributes:
        upstream: the upstream's base URL (without credentials).
        detail: what failed, in plain words (the message is ``upstream {upstream} {detail}``).
        timed_out: whether a time bound ended the request (no connection, no answer, a body
            not finished in time): a gateway answers 504 for it, 502 for the rest.
        too_big: whether a byte bound ended it (a body, or a gzip body inflated, past its cap).
    """

    def __init__(
        self, upstream: str, detail: str, *, timed_out: bool = False, too_big: bool = False
    ) -> None:
        self.upstream = upstream
        self.detail = detail
        self.timed_out = timed_out
        self.too_big = too_big
        super().__init__(f"upstream {upstream} {detail}")
