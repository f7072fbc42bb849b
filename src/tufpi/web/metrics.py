"""``/metrics``: the signed repository's health in the Prometheus text format."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.index.errors import IndexProblem
from tufpi.trust.status import gather, prometheus
from tufpi.web.context import context, problem

_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: Request) -> Response:
    ctx = context(request)
    try:
        await run_in_threadpool(ctx.check_read, request)
    except IndexProblem as e:
        return problem(e)
    index = ctx.index
    status = await run_in_threadpool(gather, index.sessions, index.storage)
    body = prometheus(status, index.clock())
    return PlainTextResponse(body, media_type=_CONTENT_TYPE, headers={"cache-control": "no-cache"})
