"""``/metrics``: the signed repository's health in the Prometheus text format.

Gathering the status parses the snapshot (about 100 ms of CPU with 16,384 bins), so it is
gathered again only when the published metadata changed (``timestamp.json``) or the figures
are ``metrics_max_age`` seconds old, by one request while the others wait for its result:
many scrapers cost the server what one does. With ``metrics_token`` set, ``/metrics`` needs
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hmac
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.index import IndexService
from tufpi.index.errors import NotAuthenticated
from tufpi.trust.status import (
    CachedStatus,
    RepositoryStatus,
    gather,
    is_fresh,
    prometheus,
    publication_key,
)
from tufpi.web.context import context, problem

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatusCache:
    """The last gathered status, shared by the requests of one app."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self.refreshes = 0
        self._cached: CachedStatus | None = None
        self._lock = asyncio.Lock()

    async def status(self, index: IndexService) -> RepositoryStatus:
        """The repository's status, gathered again only when stale."""
        key = await run_in_threadpool(publication_key, index.storage)
        cached = self._cached
        if cached is not None and is_fresh(cached, key, time.monotonic(), self.max_age):
            return cached.status
        async with self._lock:
            # Another request may have gathered it while this one waited for the lock.
            cached = self._cached
            if cached is not None and is_fresh(cached, key, time.monotonic(), self.max_age):
                return cached.status
            status = await run_in_threadpool(gather, index.sessions, index.storage)
            self._cached = CachedStatus(key, status, time.monotonic())
            self.refreshes += 1
            return status


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken says nothing of how much of the token matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _unauthorized() -> Response:
    response = problem(
        NotAuthenticated("/metrics needs the metrics token: Authorization: Bearer <token>.")
    )
    response.headers["www-authenticate"] = 'Bearer realm="tufpi metrics"'
    return response


def _refreshes(cache: StatusCache) -> str:
    return (
        "# HELP tufpi_metrics_refreshes_total Times this process gathered the status anew.\n"
        "# TYPE tufpi_metrics_refreshes_total counter\n"
        f"tufpi_metrics_refreshes_total {cache.refreshes}\n"
    )


async def metrics(request: Request) -> Response:
    ctx = context(request)
    token = ctx.settings.metrics_token
    if token:
        if not _bearer_matches(request, token):
            return _unauthorized()
    else:
        await run_in_threadpool(ctx.check_read, request)
    cache: StatusCache = request.app.state.metrics
    status = await cache.status(ctx.index)
    body = prometheus(status, ctx.index.clock()) + _refreshes(cache)
    return PlainTextResponse(body, media_type=_CONTENT_TYPE, headers={"cache-control": "no-cache"})
