"""``/tlog/<path>``: the transparency log (C2SP tlog-tiles), straight from storage key
``tlog/<path>``, so a static server or CDN could serve the same tree.

Only what the log publishes is looked up: the checkpoint, tiles and entry bundles in their
canonical spelling, lookup files; anything else is 404 without touching storage. The
checkpoint is replaced as the log grows and must be revalidated; a tile path (a partial
tile's too: its width is in the path) and a lookup never change, and are cached forever.
Readable by whoever may read ``/tuf/``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.storage import Storage
from tufpi.transparency import layout
from tufpi.web.context import context


async def log_file(request: Request) -> Response:
    ctx = context(request)
    rest = request.path_params["path"]
    if not layout.is_log_path(rest):
        return PlainTextResponse("Not found.\n", status_code=404)
    await run_in_threadpool(ctx.check_read, request)
    try:
        # Read whole, from one open file: the checkpoint is replaced (atomically) as the
        # log grows, and a length taken before opening could belong to another version.
        body = await run_in_threadpool(_read, ctx.index.storage, layout.PREFIX + rest)
    except FileNotFoundError:
        return PlainTextResponse("Not found.\n", status_code=404)
    scope = "private" if ctx.settings.private else "public"
    if rest == "checkpoint":
        cache, media = f"{scope}, no-cache", "text/plain; charset=utf-8"
    else:
        cache, media = f"{scope}, max-age=31536000, immutable", "application/octet-stream"
    return Response(body, media_type=media, headers={"cache-control": cache})


def _read(storage: Storage, key: str) -> bytes:
    with storage.open(key) as f:
        return f.read()
