"""``POST /legacy/``: the upload API that twine and ``uv publish`` speak.

The route only sequences named steps; each step lives in ``tufpi.index.upload`` (pure) or
``tufpi.index.service`` (database and storage) and raises an ``IndexProblem`` on refusal.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.index import upload as steps
from tufpi.index.accounts import Identity
from tufpi.index.errors import InvalidUpload, UploadTooLarge
from tufpi.index.names import DistFilename
from tufpi.index.service import UploadResult
from tufpi.web.context import WebContext, context, problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Form fields other than the file (description, classifiers...) stay small.
_MAX_FIELD_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes without ever holding them in memory.

    A declared Content-Length over the limit is refused before reading a byte; a body that
    grows past it while streaming raises UploadTooLarge in the route reading it.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            response = problem(UploadTooLarge(self._message()))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise UploadTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"Upload too large: the limit is {self.limit} bytes."


def _check_multipart(request: Request) -> None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise InvalidUpload(
            "The upload must be multipart/form-data, as twine and uv publish send it."
        )


async def _read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=2, max_fields=2000, max_part_size=_MAX_FIELD_BYTES)
    except HTTPException as e:
        raise InvalidUpload(f"Malformed upload body: {e.detail}") from e


def _check_no_client_path(content: UploadFile) -> None:
    # python-multipart keeps only what follows the last '\\' of a Windows path ("C:\\x\\a.whl"
    # becomes "a.whl"), so the filename we are handed may hide the path the client sent. No
    # distribution filename holds a separator, so none may appear in the raw header.
    disposition = content.headers.get("content-disposition", "")
    if "/" in disposition or "\\" in disposition:
        raise InvalidUpload(
            f"Invalid filename in {disposition!r}: path separators are not allowed."
        )


def _split(form: FormData) -> tuple[list[tuple[str, str]], UploadFile]:
    """The text fields in the order sent, and the one ``content`` file."""
    contents = form.getlist("content")
    if len(contents) > 1:
        raise InvalidUpload("Send exactly one 'content' file part; this upload has several.")
    content = contents[0] if contents else None
    if not isinstance(content, UploadFile) or not content.filename:
        raise InvalidUpload("Missing the 'content' file part of the upload.")
    _check_no_client_path(content)
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return fields, content


def _stage_and_record(
    ctx: WebContext,
    who: Identity,
    fields: steps.UploadForm,
    dist: DistFilename,
    content: UploadFile,
) -> UploadResult:
    """The blocking steps, in one upload thread (each hand-off to a thread costs the event
    loop's time, which every upload shares); the archive is read in the inspector's
    processes."""
    staged = steps.stage(
        content.file, ctx.settings.max_upload_bytes, ctx.index.storage.scratch_dir()
    )
    try:
        inspected = steps.inspect(fields, dist, staged, ctx.inspector.extract)
        return ctx.index.upload(who, fields, inspected)
    finally:
        staged.discard()


async def _store(ctx: WebContext, who: Identity, form: FormData) -> UploadResult:
    items, content = _split(form)
    fields = steps.parse_form(items)
    dist = steps.check_dist(fields, content.filename or "")
    work = functools.partial(_stage_and_record, ctx, who, fields, dist, content)
    # Busy (503) past upload_concurrency. The upload limiter, not the one of the thread pool
    # that serves reads; it has a token for each admitted upload, so none waits for one. As
    # with run_in_threadpool, a cancelled request still waits for its thread to end, so the
    # slot is released only when the upload's work is over.
    with ctx.inspector.admit():
        return await anyio.to_thread.run_sync(work, limiter=ctx.upload_limiter)


async def _upload(request: Request, ctx: WebContext) -> UploadResult:
    # Cheap (a hash and a lookup), like the token check of a private index's reads.
    who = await run_in_threadpool(ctx.identify, request)
    _check_multipart(request)
    form = await _read_form(request)
    try:
        return await _store(ctx, who, form)
    finally:
        await form.close()


async def legacy_upload(request: Request) -> Response:
    ctx = context(request)
    result = await _upload(request, ctx)
    if not result.created:
        return PlainTextResponse(
            f"File {result.filename} already exists with identical content; nothing changed.\n"
        )
    return PlainTextResponse(f"Uploaded {result.filename} to {result.project} {result.version}.\n")
