"""``tufpi proxy``: a local simple index that answers only with what the signed metadata
vouches for, so unmodified pip, uv and poetry install verified files.

Project pages are the signed page targets, unchanged: their file links are relative
(``../../packages/...``), so they already point back at this proxy, whose ``/packages/``
serves each file only after ngclient has checked its length and hashes.

Every read happens in a worker thread of a bounded pool of its own kind (files apart from
pages), so downloads a hostile upstream trickles fill only their own pool, and each read is
bounded in time and size by the index's fetcher. The index's unsigned page is read only
for ``--allow-unpublished`` (see ``unpublished.py``) and, best-effort, to explain a 404.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from tuf.api import exceptions

from tufpi.client import unpublished
from tufpi.client.dependencies import check_core_metadata, check_distribution
from tufpi.client.fetcher import CORE_METADATA_MAX_LENGTH, UNSIGNED_PAGE_MAX_LENGTH
from tufpi.client.forward import OnlyThisOrigin
from tufpi.client.launch import index_prefix
from tufpi.client.refusals import NotFound, NotListed, Refusal, explain
from tufpi.client.text import printable, reason_phrase
from tufpi.client.unpublished import Addition
from tufpi.client.verified_index import VerifiedIndex
from tufpi.http import REASON_HEADER, negotiate
from tufpi.index.errors import InvalidUpload
from tufpi.index.names import normalize, parse_dist_filename

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
# Worker threads at most for file downloads, and apart for pages and PEP 658 files (anyio's
# default pool, 40 threads shared by everything, is what 45 trickled downloads exhausted).
FILE_THREADS = 64
PAGE_THREADS = 32
# An unpublished file whose page states no size (PEP 700): at most this many bytes.
UNPUBLISHED_FILE_MAX_LENGTH = 1024 * 1024 * 1024
# Seconds a page request waits for an upload the index lists but no signed snapshot does
# yet (its signer publishes every publish_interval, 0.5 s by default).
PUBLICATION_WAIT = 10.0
# Unpublished files announced by the pages served, remembered at most (the newest).
_ANNOUNCED_MAX = 10_000
# Checked PEP 658 files, by sha256, in the index's target cache.
CORE_METADATA_DIR = "core-metadata"
# Files and PEP 658 files are named by their sha256 (packages/ab/cd/<rest>/<name>): what a URL
# serves never changes, so installers may keep it (PyPI says the same of its files). Pages
# change with each publication: revalidated on every use, by their ETag.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "max-age=0, must-revalidate"
_T = TypeVar("_T")


def refused(error: Refusal) -> Response:
    """An error the installer shows: the reason in the body and in the reason phrase."""
    log.warning("refused: %s", error.message)
    return PlainTextResponse(
        f"tufpi proxy refused: {printable(error.message)}\n",
        status_code=error.status,
        headers={REASON_HEADER: reason_phrase(f"tufpi refused: {error.message}")},
    )


class Announcements:
    """The unpublished files the proxy's pages have offered, by path: the only ones its
    ``/packages/`` may serve unverified (the newest ``limit``). Thread-safe."""

    def __init__(self, limit: int = _ANNOUNCED_MAX) -> None:
        self._limit = limit
        self._files: collections.OrderedDict[str, Addition] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, additions: Iterable[Addition]) -> None:
        with self._lock:
            for addition in additions:
                self._files.pop(addition.path, None)
                self._files[addition.path] = addition
            while len(self._files) > self._limit:
                self._files.popitem(last=False)

    def get(self, path: str) -> Addition | None:
        with self._lock:
            return self._files.get(path)


@dataclasses.dataclass(frozen=True)
class _Served:
    """A file to send; ``temporary``: delete it once sent (an unpublished file's copy)."""

    path: Path
    temporary: bool = False


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class Proxy:
    """The routes, over one VerifiedIndex, whose fetcher makes every read.

    With ``allow_unpublished``, files the index serves but no signed snapshot lists yet are
    added to the signed page, unverified, with a warning naming each (PEP 458 lets an index
    serve a file before its snapshot exists; ``unpublished.py`` says which qualify); without
    it they do not exist for the installer.
    """

    def __init__(
        self,
        index: VerifiedIndex,
        allow_unpublished: bool = False,
        publication_wait: float = PUBLICATION_WAIT,
    ) -> None:
        self.index = index
        self.allow_unpublished = allow_unpublished
        self.publication_wait = publication_wait
        self.announced = Announcements()
        self._file_threads = anyio.CapacityLimiter(FILE_THREADS)
        self._page_threads = anyio.CapacityLimiter(PAGE_THREADS)

    # ----- routes -----

    async def home(self, _request: Request) -> Response:
        return HTMLResponse(_HOME)

    async def project(self, request: Request) -> Response:
        name = request.path_params["project"]
        normalized = normalize(name)
        if name != normalized or not request.url.path.endswith("/"):
            root = request.scope.get("root_path", "")  # the index's prefix, if requested
            return RedirectResponse(f"{root}/simple/{normalized}/", status_code=301)
        media = negotiate.choose(request.headers.get("accept"), request.query_params.get("format"))
        if media is None:
            return PlainTextResponse("Not acceptable.\n", status_code=406)
        try:
            body = await self._in_thread(self._page_threads, self._page, normalized, media)
        except NotListed as e:
            log.warning("%s", e.message)
            return PlainTextResponse(f"{printable(e.message)}\n", status_code=404)
        except Refusal as e:
            return refused(e)
        return _page_response(request, body, media)

    async def package(self, request: Request) -> Response:
        path = "packages/" + request.path_params["path"]
        try:
            if path.endswith(".metadata"):
                data = await self._in_thread(self._page_threads, self._core_metadata, path)
                headers = {"cache-control": IMMUTABLE}
                return Response(data, media_type="text/plain; charset=utf-8", headers=headers)
            served = await self._in_thread(self._file_threads, self._file, path)
        except Refusal as e:
            return refused(e)
        if served.temporary:  # unverified: an installer must not keep it as if it were
            cleanup = BackgroundTask(_remove, served.path)
            headers = {"cache-control": "no-store"}
        else:
            cleanup, headers = None, {"cache-control": IMMUTABLE}
        return FileResponse(
            served.path, media_type="application/octet-stream", headers=headers, background=cleanup
        )

    @staticmethod
    async def _in_thread(
        limiter: anyio.CapacityLimiter, function: Callable[..., _T], *args: object
    ) -> _T:
        return await anyio.to_thread.run_sync(function, *args, limiter=limiter)

    # ----- what is handed out -----

    def _release(self, path: str, artifact: _T) -> _T:
        """The one place a distribution (a file to send) or a PEP 658 file (bytes) leaves
        for the installer, verified or (``--allow-unpublished``) checked against the
        index's stated sha256: a check of what installers may receive goes here.

        Raises:
            Refusal: it must not be handed out.
        """
        filename = path.rpartition("/")[2]
        if isinstance(artifact, bytes):
            check_core_metadata(artifact, filename.removesuffix(".metadata"))
        elif isinstance(artifact, Path):
            check_distribution(artifact, filename)
        return artifact

    # ----- pages -----

    def _page(self, project: str, media: str) -> bytes:
        # A page is where an installer learns of new releases: look for a new publication
        # (at most once per recheck interval), so an upload shows within seconds.
        self.index.recheck()
        if self.allow_unpublished:
            return self._page_with_unpublished(project, media)
        try:
            return self.index.page(project, _PAGE_FILES[media])
        except NotListed:
            pass
        return self._page_once_published(project, media)

    def _page_once_published(self, project: str, media: str) -> bytes:
        """A page the signed metadata does not list (even after a recheck): not found if
        the index does not have it either; if its unsigned page lists it (an upload whose
        publication is pending), the signed page once published, waiting at most
        ``publication_wait`` seconds.

        Raises:
            NotFound: the index does not have it.
            NotListed: not published in time, or the index could not be asked.
        """
        path = f"simple/{project}/"
        has = self._index_has(path)
        if has is False:
            raise NotFound(f"{path} (the index has no such project)")
        if has is None:
            raise NotListed(path)
        target = f"{path}{_PAGE_FILES[media]}"
        log.info(
            "waiting up to %g s for the publication of %s (the index lists it, no signed "
            "snapshot does yet)",
            self.publication_wait,
            path,
        )
        if self.index.wait_listed(target, self.publication_wait):
            return self.index.page(project, _PAGE_FILES[media])
        raise NotListed(
            f"{path} (the index lists it, unverified, but no signed snapshot did within "
            f"{self.publication_wait:g} s: its publication is pending (is the index's signer "
            "running?); --allow-unpublished would install it UNVERIFIED)"
        )

    def _unsigned_page(self, path: str) -> bytes | None:
        """The index's unsigned JSON page at ``path``, best-effort: bounded by the fetcher
        (time, size, decompressed size); None if it could not be read."""
        url = self.index.index_url + path
        try:
            return self.index.fetcher.get(url, UNSIGNED_PAGE_MAX_LENGTH, accept=negotiate.JSON_V1)
        except exceptions.DownloadError as e:
            log.info("the index's unsigned page %r was not read: %r", path, str(e))
            return None

    def _index_has(self, path: str) -> bool | None:
        """Whether the index serves the unsigned page at ``path`` (None: could not tell),
        read best-effort and bounded by the fetcher. It only chooses the words of a 404 and
        whether to wait for a publication: it never makes anything available."""
        url = self.index.index_url + path
        try:
            self.index.fetcher.get(url, UNSIGNED_PAGE_MAX_LENGTH, accept=negotiate.JSON_V1)
        except exceptions.DownloadHTTPError as e:
            return False if e.status_code == 404 else None
        except exceptions.DownloadError as e:
            log.info("the index's unsigned page %r was not read: %r", path, str(e))
            return None
        return True

    def _page_with_unpublished(self, project: str, media: str) -> bytes:
        """The signed page plus the unpublished files the index's own page may add."""
        path = f"simple/{project}/"
        try:
            signed = self.index.signed_json_page(project)
        except NotListed:
            signed = None
        unsigned = self._unsigned_page(path) or b""
        page_url = self.index.index_url + path
        offer = unpublished.offer(project, signed, unsigned, page_url, self.index.index_url)
        for filename, reason in offer.refused:
            log.warning("not passed through (%s): %r: %s", project, filename, reason)
        if not offer.additions:
            if signed is None:
                raise NotListed(path)
            return self.index.page(project, _PAGE_FILES[media])
        self.announced.add(offer.additions)
        log.warning(
            "UNVERIFIED: %s: not yet in a signed snapshot, passed through: %s",
            project,
            ", ".join(repr(a.filename) for a in offer.additions),
        )
        if media == negotiate.JSON_V1:
            return unpublished.compose_json(project, signed, offer)
        return unpublished.compose_html(project, signed, offer)

    # ----- files -----

    def _file(self, path: str) -> _Served:
        try:
            return _Served(self._release(path, self.index.target(path)))
        except NotListed:
            addition = self.announced.get(path) if self.allow_unpublished else None
            if addition is None:
                raise
        copy = self._unpublished_file(addition)
        try:
            return _Served(self._release(path, copy), temporary=True)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise

    def _unpublished_file(self, addition: Addition) -> Path:
        """A copy of an unpublished file a page announced, if its bytes have the sha256 the
        index stated (and no more bytes than the stated size, or a cap)."""
        try:
            fd, name = tempfile.mkstemp(dir=self.index.target_dir, prefix=".unpublished-")
        except OSError as e:
            raise Refusal(f"cannot store {addition.filename!r}: {e}") from e
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                digest = self._copy_unpublished(addition, out)
        except BaseException:
            copy.unlink(missing_ok=True)
            raise
        if digest != addition.sha256:
            copy.unlink(missing_ok=True)
            raise Refusal(
                f"unpublished file {addition.filename!r} does not have the sha256 the index "
                "states for it"
            )
        log.warning("UNVERIFIED: served %r, not yet in a signed snapshot", addition.filename)
        return copy

    def _copy_unpublished(self, addition: Addition, out: BinaryIO) -> str:
        """Download ``addition`` (bounded by the fetcher) into ``out``; its sha256."""
        url = self.index.index_url + addition.path
        limit = addition.size if addition.size is not None else UNPUBLISHED_FILE_MAX_LENGTH
        digest = hashlib.sha256()
        try:
            with self.index.fetcher.download_file(url, limit) as got:
                while chunk := got.read(1024 * 1024):
                    digest.update(chunk)
                    out.write(chunk)
        except exceptions.DownloadError as e:
            raise explain(e, repr(addition.filename)) from e
        except OSError as e:
            raise Refusal(f"cannot store {addition.filename!r}: {e}") from e
        return digest.hexdigest()

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
        # The installer decides on these bytes what to download: none for a file the
        # index's transparency log does not hold.
        self.index.check_logged(file_path)
        kept = self._kept_core_metadata(expected)
        if kept is not None:
            return self._release(path, kept)
        try:
            data = self.index.fetcher.get(self.index.index_url + path, CORE_METADATA_MAX_LENGTH)
        except exceptions.DownloadError as e:
            raise explain(e, path) from e
        if hashlib.sha256(data).hexdigest() != expected:
            raise Refusal(f"file hash does not match the signed metadata: {path}")
        self._keep_core_metadata(expected, data)
        return self._release(path, data)

    def _core_metadata_name(self, sha256: str) -> Path | None:
        if self.index.target_dir is None:
            return None
        return self.index.target_dir / CORE_METADATA_DIR / sha256

    def _kept_core_metadata(self, sha256: str) -> bytes | None:
        """A PEP 658 file kept from an earlier request, by its sha256, if the bytes still
        have it (a cache someone altered is read again from the index)."""
        name = self._core_metadata_name(sha256)
        try:
            data = name.read_bytes() if name is not None else None
        except OSError:
            return None
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            return None
        return data

    def _keep_core_metadata(self, sha256: str, data: bytes) -> None:
        """Keep a checked PEP 658 file, best-effort, atomically (a reader sees all or none)."""
        name = self._core_metadata_name(sha256)
        if name is None:
            return
        try:
            name.parent.mkdir(exist_ok=True)
            fd, part = tempfile.mkstemp(dir=name.parent, prefix=".keep-", suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(part, name)
        except OSError as e:
            log.info("a PEP 658 file was not kept: %s", e)


def _page_response(request: Request, body: bytes, media: str) -> Response:
    """A verified page, with an ETag: an installer revalidating its cached copy gets 304
    when the page is the same (it was verified again before this answer)."""
    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
    headers = {"cache-control": REVALIDATE, "etag": etag, "vary": "Accept"}
    if etag in _entity_tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def _entity_tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compared as strong: RFC 9110
    13.1.2 uses the weak comparison for If-None-Match)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def create_proxy_app(
    index: VerifiedIndex,
    allow_unpublished: bool = False,
    publication_wait: float = PUBLICATION_WAIT,
) -> Starlette:
    """The proxy's ASGI app over ``index``."""
    proxy = Proxy(index, allow_unpublished, publication_wait)
    routes: list[BaseRoute] = [
        Route("/", proxy.home),
        Route("/simple/", proxy.home),
        Route("/simple/{project}/", proxy.project),
        Route("/simple/{project}", proxy.project),
        Route("/packages/{path:path}", proxy.package),
    ]
    return Starlette(
        routes=[*routes, Mount(index_prefix(index.index_url), routes=routes)],
        middleware=[Middleware(OnlyThisOrigin, refuse=refused)],
    )
