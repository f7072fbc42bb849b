"""The simple repository API: ``/simple/`` and ``/simple/<project>/`` (PEP 503, 691, 700)."""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tufpi.index.errors import IndexProblem, NotFound
from tufpi.index.names import normalize
from tufpi.web import negotiate, render
from tufpi.web.context import WebContext, context, problem

_RENDERERS = {
    negotiate.JSON_V1: (render.index_json, render.project_json),
    negotiate.HTML_V1: (render.index_html, render.project_html),
    negotiate.TEXT_HTML: (render.index_html, render.project_html),
}


def _answer(request: Request, ctx: WebContext, body: bytes, media: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    cache = "private" if ctx.settings.private else "public"
    headers = {
        "etag": etag,
        "vary": "Accept, Accept-Encoding",
        "cache-control": f"{cache}, max-age=0, must-revalidate",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def _representation(request: Request) -> str | None:
    return negotiate.choose(request.headers.get("accept"), request.query_params.get("format"))


async def simple_index(request: Request) -> Response:
    ctx = context(request)
    try:
        await run_in_threadpool(ctx.check_read, request)
    except IndexProblem as e:
        return problem(e)
    media = _representation(request)
    if media is None:
        return PlainTextResponse("Not acceptable: no simple API representation matches.", 406)
    renderer = _RENDERERS[media][0]

    def build() -> bytes:
        serial = ctx.index.index_serial()
        return ctx.pages.get(
            ("index", renderer, serial), lambda: renderer(ctx.index.project_names())
        )

    body = await run_in_threadpool(build)
    return _answer(request, ctx, body, media)


async def simple_project(request: Request) -> Response:
    ctx = context(request)
    name = request.path_params["project"]
    normalized = normalize(name)
    if name != normalized or not request.url.path.endswith("/"):
        # PEP 503: redirect to the normalised URL (with the trailing slash).
        target = request.url.replace(path=f"/simple/{normalized}/")
        return RedirectResponse(str(target), status_code=301)
    try:
        await run_in_threadpool(ctx.check_read, request)
    except IndexProblem as e:
        return problem(e)
    media = _representation(request)
    if media is None:
        return PlainTextResponse("Not acceptable: no simple API representation matches.", 406)
    renderer = _RENDERERS[media][1]

    def build() -> bytes:
        serial = ctx.index.project_serial(normalized)
        if serial is None:
            raise NotFound(f"No project named {normalized!r}.")
        key = ("project", normalized, renderer, serial)
        return ctx.pages.get(key, lambda: renderer(ctx.index.project_page(normalized)))

    try:
        body = await run_in_threadpool(build)
    except IndexProblem as e:
        return problem(e)
    return _answer(request, ctx, body, media)
