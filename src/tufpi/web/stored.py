"""A file served straight from storage, as a static server or CDN would serve the same tree:
the signed metadata (``/tuf/``) and the transparency log (``/tlog/``)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.storage import Storage
from tufpi.web.context import context

NOT_FOUND = "Not found.\n"


async def stored_file(request: Request, key: str, *, immutable: bool, media_type: str) -> Response:
    """Storage key ``key`` for whoever may read the index: cached forever if ``immutable``
    (a name whose content never changes), else revalidated each time; 404 if absent."""
    ctx = context(request)
    await run_in_threadpool(ctx.check_read, request)
    try:
        # Read whole, from one open file: timestamp.json and the log's checkpoint are
        # replaced (atomically) as the signer publishes, and a length taken before opening
        # could belong to another version.
        body = await run_in_threadpool(_read, ctx.index.storage, key)
    except FileNotFoundError:
        return PlainTextResponse(NOT_FOUND, status_code=404)
    scope = "private" if ctx.settings.private else "public"
    cache = f"{scope}, max-age=31536000, immutable" if immutable else f"{scope}, no-cache"
    return Response(body, media_type=media_type, headers={"cache-control": cache})


def _read(storage: Storage, key: str) -> bytes:
    with storage.open(key) as f:
        return f.read()
