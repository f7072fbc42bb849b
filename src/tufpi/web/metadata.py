"""``/tuf/<file>``: the signed repository metadata, straight from storage.

Versioned files (``N.ROLE.json``) never change and are cached forever; ``timestamp.json``
(and the ``root.json`` convenience copy) must always be revalidated.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.trust import layout
from tufpi.web.stored import NOT_FOUND, stored_file

_NAME = re.compile(r"^(?:[0-9]+\.)?[a-z0-9-]+\.json$")


async def metadata_file(request: Request) -> Response:
    name = request.path_params["filename"]
    if not _NAME.match(name):
        return PlainTextResponse(NOT_FOUND, status_code=404)
    versioned = name[0].isdigit()
    key = layout.METADATA_PREFIX + name
    return await stored_file(request, key, immutable=versioned, media_type="application/json")
