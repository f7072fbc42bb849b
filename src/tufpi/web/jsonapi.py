"""``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``, shaped like PyPI's."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tufpi.index.names import normalize
from tufpi.web import render
from tufpi.web.context import context


async def project_json(request: Request) -> Response:
    ctx = context(request)
    name = request.path_params["project"]
    version = request.path_params.get("version")
    normalized = normalize(name)
    if name != normalized:
        suffix = f"{version}/json" if version else "json"
        return RedirectResponse(f"/pypi/{normalized}/{suffix}", status_code=301)
    await run_in_threadpool(ctx.check_read, request)
    detail = await run_in_threadpool(ctx.index.project_detail, normalized)
    body = render.project_api(detail, str(request.base_url), version)
    if body is None:
        return PlainTextResponse(f"No release {version} of {detail.page.name}.\n", 404)
    return Response(body, media_type="application/json", headers={"cache-control": "max-age=0"})
