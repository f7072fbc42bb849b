"""``/tuf/<file>``: the signed repository metadata, straight from storage.

Versioned files (``N.ROLE.json``) never change and are cached forever; ``timestamp.json``
(and the ``root.json`` convenience copy) must always be revalidated.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from tufpi.index.errors import IndexProblem
from tufpi.trust import layout
from tufpi.web.context import context, problem

_NAME = re.compile(r"^(?:[0-9]+\.)?[a-z0-9-]+\.json$")


async def metadata_file(request: Request) -> Response:
    ctx = context(request)
    name = request.path_params["filename"]
    if not _NAME.match(name):
        return PlainTextResponse("Not found.\n", status_code=404)
    try:
        await run_in_threadpool(ctx.check_read, request)
    except IndexProblem as e:
        return problem(e)
    path = ctx.index.storage.local_path(layout.METADATA_PREFIX + name)
    if path is None or not path.is_file():
        return PlainTextResponse("Not found.\n", status_code=404)
    versioned = name[0].isdigit()
    scope = "private" if ctx.settings.private else "public"
    cache = f"{scope}, max-age=31536000, immutable" if versioned else f"{scope}, no-cache"
    return FileResponse(path, media_type="application/json", headers={"cache-control": cache})
