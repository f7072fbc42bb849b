"""``/tuf/<file>``: the signed repository metadata, straight from storage.

Versioned files (``N.ROLE.json``) never change and are cached forever; ``timestamp.json``
(and the ``root.json`` convenience copy) must always be revalidated.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.storage import Storage
from tufpi.trust import layout
from tufpi.web.context import context

_NAME = re.compile(r"^(?:[0-9]+\.)?[a-z0-9-]+\.json$")


async def metadata_file(request: Request) -> Response:
    ctx = context(request)
    name = request.path_params["filename"]
    if not _NAME.match(name):
        return PlainTextResponse("Not found.\n", status_code=404)
    await run_in_threadpool(ctx.check_read, request)
    try:
        # Read whole, from one open file: timestamp.json is replaced (atomically) while the
        # signer publishes, and a length taken before opening could belong to another file.
        body = await run_in_threadpool(_read, ctx.index.storage, layout.METADATA_PREFIX + name)
    except FileNotFoundError:
        return PlainTextResponse("Not found.\n", status_code=404)
    versioned = name[0].isdigit()
    scope = "private" if ctx.settings.private else "public"
    cache = f"{scope}, max-age=31536000, immutable" if versioned else f"{scope}, no-cache"
    return Response(body, media_type="application/json", headers={"cache-control": cache})


def _read(storage: Storage, key: str) -> bytes:
    with storage.open(key) as f:
        return f.read()
