"""``/tlog/<path>``: the transparency log (C2SP tlog-tiles), straight from storage key
``tlog/<path>``, so a static server or CDN could serve the same tree.

Only what the log publishes is looked up: the checkpoint, tiles and entry bundles in their
canonical spelling, lookup files; anything else is 404 without touching storage. The
checkpoint is replaced as the log grows and must be revalidated; a tile path (a partial
tile's too: its width is in the path) and a lookup never change, and are cached forever.
Readable by whoever may read ``/tuf/``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.transparency import layout
from tufpi.web.stored import NOT_FOUND, stored_file


async def log_file(request: Request) -> Response:
    rest = request.path_params["path"]
    if not layout.is_log_path(rest):
        return PlainTextResponse(NOT_FOUND, status_code=404)
    if rest == "checkpoint":
        immutable, media = False, "text/plain; charset=utf-8"
    else:
        immutable, media = True, "application/octet-stream"
    return await stored_file(request, layout.PREFIX + rest, immutable=immutable, media_type=media)
