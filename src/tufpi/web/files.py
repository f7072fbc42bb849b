"""File downloads under ``/packages/``: distributions and their PEP 658 ``.metadata`` files.

Paths are storage keys, so a static server pointed at the storage root serves the same URLs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from tufpi.storage import StorageError
from tufpi.web.context import WebContext, context


def cache_control(private: bool) -> str:
    """Downloads are content-addressed, so they never change: cache them for a year.

    On a private index only the client may keep them ("private" replaces "public": both
    together contradict each other).
    """
    return f"{'private' if private else 'public'}, max-age=31536000, immutable"


def media_type(name: str) -> str:
    """The Content-Type of a stored file, by its name."""
    if name.endswith((".whl", ".zip")):
        return "application/zip"
    if name.endswith(".tar.gz"):
        return "application/gzip"
    if name.endswith(".metadata"):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def etag_for(key: str) -> str | None:
    """A strong ETag from the SHA-256 in a distribution's key (None for other keys)."""
    # Keys are packages/aa/bb/<rest of sha256>/<filename>: the content hash is in the path.
    parts = PurePosixPath(key).parts
    if len(parts) == 5 and parts[0] == "packages":
        suffix = "-metadata" if key.endswith(".metadata") else ""
        return f'"{parts[1]}{parts[2]}{parts[3]}{suffix}"'
    return None


def is_hidden(key: str) -> bool:
    """Whether ``key`` has a segment starting with '.', which is never served."""
    # Storage writes through dot-named temporary files (".tmp-*") before renaming them into
    # place; a half-written one must never be served, let alone with an immutable lifetime.
    # No distribution filename or hash directory starts with '.', and '..' is refused too.
    return any(part.startswith(".") for part in key.split("/"))


def _stored(ctx: WebContext, key: str) -> Path | None:
    """The local file holding ``key``, or None."""
    try:
        path = ctx.index.storage.local_path(key)
    except StorageError:
        return None
    return path if path is not None and path.is_file() else None


async def download(request: Request) -> Response:
    ctx = context(request)
    await run_in_threadpool(ctx.check_read, request)
    key = "packages/" + request.path_params["path"]
    if is_hidden(key):
        return PlainTextResponse("Not found.\n", status_code=404)
    path = _stored(ctx, key)
    if path is None and ctx.mirror is not None:
        # A mirrored file's first download: fetched from upstream, checked, stored.
        await ctx.mirrored(ctx.mirror.file, key)
        path = _stored(ctx, key)
    if path is None:
        return PlainTextResponse("Not found.\n", status_code=404)
    headers = {"cache-control": cache_control(ctx.settings.private)}
    etag = etag_for(key)
    if etag:
        headers["etag"] = etag
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type(key), headers=headers)
