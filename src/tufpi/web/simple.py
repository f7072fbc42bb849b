"""The simple repository API: ``/simple/`` and ``/simple/<project>/`` (PEP 503, 691, 700).

Project pages are the stored bytes of their signed targets (``index.pages``), so plain pip
and a verifying client are served exactly the same page.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from tufpi.http import negotiate
from tufpi.index import pages
from tufpi.index.errors import NotFound, Unavailable
from tufpi.index.names import normalize
from tufpi.trust import layout
from tufpi.web import render
from tufpi.web.context import Body, WebContext, context

_INDEX_RENDERERS = {
    negotiate.JSON_V1: render.index_json,
    negotiate.HTML_V1: render.index_html,
    negotiate.TEXT_HTML: render.index_html,
}
_PAGE_FILES = {
    negotiate.JSON_V1: pages.JSON,
    negotiate.HTML_V1: pages.HTML,
    negotiate.TEXT_HTML: pages.HTML,
}
_CONSISTENT_PAGE = re.compile(r"^[0-9a-f]{64}\.index\.(html|json)$")


def _encoded(request: Request, body: Body, media: str, headers: dict[str, str]) -> Response:
    """The cached gzip encoding when the client takes it (the test the middleware makes).

    The gzip middleware passes an answer with a Content-Encoding through untouched, so this
    adds the ``Vary: Accept-Encoding`` it would have added.
    """
    if body.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        vary = headers.get("vary", "")
        if "accept-encoding" not in vary.lower():
            headers["vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
        return Response(body.gzipped, media_type=media, headers=headers)
    return Response(body.plain, media_type=media, headers=headers)


def _answer(request: Request, ctx: WebContext, body: Body, media: str, etag: str) -> Response:
    cache = "private" if ctx.settings.private else "public"
    headers = {
        "etag": f'"{etag}"',
        "vary": "Accept, Accept-Encoding",
        "cache-control": f"{cache}, max-age=0, must-revalidate",
    }
    if f'"{etag}"' in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return _encoded(request, body, media, headers)


async def _check_read(ctx: WebContext, request: Request) -> None:
    """``ctx.check_read``, in a worker thread only when it queries the database: a public
    index has nothing to check, and the thread hop was a tenth of a cached page's cost."""
    if ctx.settings.private:
        await run_in_threadpool(ctx.check_read, request)


def _representation(request: Request) -> str | None:
    return negotiate.choose(request.headers.get("accept"), request.query_params.get("format"))


def _not_acceptable() -> Response:
    return PlainTextResponse("Not acceptable: no simple API representation matches.\n", 406)


async def simple_index(request: Request) -> Response:
    ctx = context(request)
    await _check_read(ctx, request)
    media = _representation(request)
    if media is None:
        return _not_acceptable()
    renderer = _INDEX_RENDERERS[media]

    def build() -> tuple[Body, str]:
        count, top = ctx.index.index_serial()
        key = ("index", media, count, top)
        body = ctx.pages.get(key, lambda: renderer(ctx.index.project_names()))
        return body, f"i{count}-{top}-{len(body.plain)}"

    body, etag = await run_in_threadpool(build)
    return _answer(request, ctx, body, media, etag)


def _stored(ctx: WebContext, key: str) -> Body:
    def read() -> bytes:
        with ctx.index.storage.open(key) as f:
            return f.read()

    return ctx.pages.get(key, read)


async def simple_project(request: Request) -> Response:
    ctx = context(request)
    name = request.path_params["project"]
    normalized = normalize(name)
    if name != normalized or not request.url.path.endswith("/"):
        # PEP 503: redirect to the normalised URL (with the trailing slash).
        target = request.url.replace(path=f"/simple/{normalized}/")
        return RedirectResponse(str(target), status_code=301)
    await _check_read(ctx, request)
    media = _representation(request)
    if media is None:
        return _not_acceptable()
    filename = _PAGE_FILES[media]
    if ctx.mirror is not None:
        # A project not hosted here is mirrored first; a mirrored one refreshed when due.
        await ctx.mirrored(ctx.mirror.page, normalized)

    def build() -> tuple[Body, str]:
        sha256 = ctx.index.page_sha256(normalized, filename)
        if sha256 is None:
            raise NotFound(f"No project named {normalized!r}.")
        path = layout.page_path(normalized, filename)
        try:
            return _stored(ctx, layout.consistent_path(path, sha256)), sha256
        except FileNotFoundError as e:
            # Committed a moment ago, and made visible a moment later (see IndexService).
            raise Unavailable("This page is being published; retry in a moment.") from e

    body, sha256 = await run_in_threadpool(build)
    return _answer(request, ctx, body, media, sha256)


async def consistent_page(request: Request) -> Response:
    """A page by its consistent-snapshot name, ``/simple/<name>/<sha256>.index.html``."""
    ctx = context(request)
    name, filename = request.path_params["project"], request.path_params["filename"]
    if name != normalize(name) or not _CONSISTENT_PAGE.match(filename):
        return PlainTextResponse("Not found.\n", status_code=404)
    try:
        await _check_read(ctx, request)
        body = await run_in_threadpool(_stored, ctx, f"simple/{name}/{filename}")
    except FileNotFoundError:
        return PlainTextResponse("Not found.\n", status_code=404)
    media = negotiate.JSON_V1 if filename.endswith(".json") else negotiate.HTML_V1
    scope = "private" if ctx.settings.private else "public"
    headers = {"cache-control": f"{scope}, max-age=31536000, immutable"}
    return _encoded(request, body, media, headers)
