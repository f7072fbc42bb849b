"""``tufpi proxy``: a local simple index that answers only with what the signed metadata
vouches for, so unmodified pip, uv and poetry install verified files.

Project pages are the signed page targets, unchanged: their file links are relative
(``../../packages/...``), so they already point back at this proxy, whose ``/packages/``
serves each file only after ngclient has checked its length and hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from tufpi.client.dependencies import check_core_metadata, check_distribution
from tufpi.client.forward import OnlyThisOrigin
from tufpi.client.refusals import NotListed, Refusal
from tufpi.client.verified_index import VerifiedIndex
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import normalize, parse_dist_filename
from tufpi.web import negotiate
from tufpi.web.context import REASON_HEADER

log = logging.getLogger("tufpi.proxy")
_PAGE_FILES = {
    negotiate.JSON_V1: "index.json",
    negotiate.HTML_V1: "index.html",
    negotiate.TEXT_HTML: "index.html",
}
_HOME = """<!DOCTYPE html><html><head><title>tufpi proxy</title></head><body>
<p>A verifying proxy: <code>/simple/&lt;project&gt;/</code> serves only what the index's
signed metadata (PEP 458) vouches for.</p></body></html>
"""


def refused(error: Refusal) -> Response:
    """An error the installer shows: the reason in the body and in the reason phrase."""
    log.warning("refused: %s", error.message)
    reason = " ".join(error.message.split()).encode("ascii", "backslashreplace").decode()
    return PlainTextResponse(
        f"tufpi proxy refused: {error.message}\n",
        status_code=error.status,
        headers={REASON_HEADER: f"tufpi refused: {reason}"[:500]},
    )


def pending_files(signed_page: bytes, live_page: bytes) -> list[str]:
    """Files the index lists that the signed page does not: uploaded, not yet published."""
    signed = {f["filename"] for f in json.loads(signed_page).get("files", [])}
    return sorted(
        f["filename"] for f in json.loads(live_page).get("files", []) if f["filename"] not in signed
    )


class Proxy:
    """The routes, over one VerifiedIndex; the upstream client fetches PEP 658 files.

    With ``allow_unpublished``, files already on the index but not yet in a signed snapshot
    are passed through unverified, with a warning (PEP 458 lets an index serve a file
    before its snapshot exists); without it they do not exist for the installer.
    """

    def __init__(
        self, index: VerifiedIndex, client: httpx.Client, allow_unpublished: bool = False
    ) -> None:
        self.index = index
        self.client = client
        self.allow_unpublished = allow_unpublished

    def _live(self, path: str, accept: str | None = None) -> bytes | None:
        """The index's current, unverified answer for ``path``, or None if it has none."""
        headers = {"accept": accept} if accept else {}
        try:
            response = self.client.get(self.index.index_url + path, headers=headers)
        except httpx.HTTPError:
            return None
        return response.content if response.status_code == 200 else None

    def _page(self, project: str, media: str) -> bytes:
        try:
            signed = self.index.page(project, _PAGE_FILES[media])
        except NotListed:
            live = self._live(f"simple/{project}/", media)
            if live is None:
                raise
            if not self.allow_unpublished:
                # The index (or a mirror: this answer is unverified) lists it; if it was just
                # uploaded its publication is pending. It does not exist for the installer.
                raise NotListed(
                    f"simple/{project}/ (the index lists it, unverified: if it was just "
                    "uploaded, its publication is pending; --allow-unpublished would install "
                    "it UNVERIFIED)"
                ) from None
            log.warning(
                "UNVERIFIED: %s is not yet in a signed snapshot; passing it through", project
            )
            return live
        live_json = self._live(f"simple/{project}/", negotiate.JSON_V1)
        if live_json is not None:
            pending = pending_files(self.index.page(project, "index.json"), live_json)
            if pending:
                if self.allow_unpublished:
                    log.warning("UNVERIFIED: %s not yet in a signed snapshot: %s", project, pending)
                    return self._live(f"simple/{project}/", media) or signed
                log.warning(
                    "%s: %d file(s) not yet in a signed snapshot are hidden (publication "
                    "pending): %s",
                    project,
                    len(pending),
                    ", ".join(pending),
                )
        return signed

    async def home(self, _request: Request) -> Response:
        return HTMLResponse(_HOME)

    async def project(self, request: Request) -> Response:
        name = request.path_params["project"]
        normalized = normalize(name)
        if name != normalized or not request.url.path.endswith("/"):
            return RedirectResponse(f"/simple/{normalized}/", status_code=301)
        media = negotiate.choose(request.headers.get("accept"), request.query_params.get("format"))
        if media is None:
            return PlainTextResponse("Not acceptable.\n", status_code=406)
        try:
            body = await run_in_threadpool(self._page, normalized, media)
        except NotListed as e:
            log.warning("%s", e.message)
            return PlainTextResponse(f"{e.message}\n", status_code=404)
        except Refusal as e:
            return refused(e)
        return Response(body, media_type=media, headers={"cache-control": "no-cache"})

    async def package(self, request: Request) -> Response:
        path = "packages/" + request.path_params["path"]
        try:
            if path.endswith(".metadata"):
                data = await run_in_threadpool(self._core_metadata, path)
                return Response(data, media_type="text/plain; charset=utf-8")
            local = await run_in_threadpool(self.index.target, path)
            await run_in_threadpool(check_distribution, local, path.rpartition("/")[2])
        except NotListed as e:
            unverified = None
            if self.allow_unpublished:
                unverified = await run_in_threadpool(self._unpublished_file, path)
            if unverified is None:
                return refused(e)
            return Response(unverified, media_type="application/octet-stream")
        except Refusal as e:
            return refused(e)
        return FileResponse(local, media_type="application/octet-stream")

    def _unpublished_file(self, path: str) -> bytes | None:
        """A file (or its PEP 658 metadata) not yet signed, passed through. A distribution
        must at least match the sha256 its content-addressed path names
        (``packages/aa/bb/<rest>/<filename>``)."""
        parts = path.split("/")
        data = self._live(path)
        if data is None or len(parts) != 5:
            return None
        if not path.endswith(".metadata") and hashlib.sha256(data).hexdigest() != "".join(
            parts[1:4]
        ):
            return None
        log.warning("UNVERIFIED: %s is not yet in a signed snapshot; passing it through", path)
        return data

    def _core_metadata(self, path: str) -> bytes:
        """A PEP 658 file, checked against the sha256 on the project's signed page."""
        file_path = path.removesuffix(".metadata")
        filename = file_path.rpartition("/")[2]
        try:
            project = parse_dist_filename(filename).name
        except InvalidUpload as e:
            raise NotListed(path) from e
        expected = self.index.core_metadata_sha256(project, file_path)
        if expected is None:
            raise NotListed(f"{path} (the signed page announces no metadata file)")
        try:
            response = self.client.get(self.index.index_url + path)
            response.raise_for_status()
        except httpx.HTTPError as e:
            raise Refusal(f"download failed: {path}: {e}") from e
        if hashlib.sha256(response.content).hexdigest() != expected:
            raise Refusal(f"file hash does not match the signed metadata: {path}")
        check_core_metadata(response.content, filename)
        return response.content


def create_proxy_app(
    index: VerifiedIndex, client: httpx.Client, allow_unpublished: bool = False
) -> Starlette:
    proxy = Proxy(index, client, allow_unpublished)
    return Starlette(
        routes=[
            Route("/", proxy.home),
            Route("/simple/", proxy.home),
            Route("/simple/{project}/", proxy.project),
            Route("/simple/{project}", proxy.project),
            Route("/packages/{path:path}", proxy.package),
        ],
        middleware=[Middleware(OnlyThisOrigin, refuse=refused)],
    )
