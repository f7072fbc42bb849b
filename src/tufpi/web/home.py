"""``/``: what this index is and how to use it, as pypiserver's welcome page does, with how
to verify what it serves: the root fingerprint and the ``tufpi install`` and ``tufpi proxy``
lines that pin it.

Rendered from ``templates/home.html`` with no script; the template engine escapes every
value (the URL may come from the request's Host header: ``usage.request_url`` takes only a
plain host, and it is escaped all the same). It also has a search box and the counts of
projects, releases and files. The fingerprint is read
from storage once: it is of the index's first root, which never changes.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tufpi.index import showcase
from tufpi.storage import Storage
from tufpi.trust.status import root_fingerprint
from tufpi.web import templating, usage
from tufpi.web.context import context


class Fingerprint:
    """The root fingerprint, read once it exists (an index not yet initialised has none)."""

    def __init__(self) -> None:
        self._value: str | None = None
        self._lock = threading.Lock()

    def known(self) -> str | None:
        """The fingerprint if already read (no I/O)."""
        return self._value

    def get(self, storage: Storage) -> str | None:
        """The fingerprint, or None while the signed metadata is not initialised."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    try:
                        self._value = root_fingerprint(storage)
                    except FileNotFoundError:
                        return None
        return self._value


class Counted:
    """The home page's counts of projects, releases and files: counted again when a newer
    project, release or file is there (``showcase.newest``), or after ``max_age`` seconds
    (a removal); counting every file of a large index on each visit would not be free."""

    def __init__(self, max_age: float = 10.0) -> None:
        self.max_age = max_age
        self._value: tuple[float, tuple[int, int, int], showcase.Counts] | None = None

    def get(self, sessions: sessionmaker[Session]) -> showcase.Counts:
        now = time.monotonic()
        mark = showcase.newest(sessions)
        cached = self._value
        if cached is not None and cached[1] == mark and now - cached[0] < self.max_age:
            return cached[2]
        counts = showcase.counts(sessions)
        self._value = (now, mark, counts)
        return counts


def render(
    url: str, fingerprint: str | None, private: bool, counts: showcase.Counts | None = None
) -> str:
    """The home page for an index at ``url`` (a root URL ending in ``/``)."""
    return templating.render(
        "home.html",
        url=url,
        fingerprint=fingerprint,
        private=private,
        counts=counts,
        verified=usage.verified_commands(url, fingerprint) if fingerprint else [],
        pyproject=usage.pyproject_table(url, fingerprint) if fingerprint else "",
        plain=usage.plain_commands(url),
        upload=usage.upload_commands(url),
        query="",
    )


async def home(request: Request) -> Response:
    """The home page, for the URL this request reached (see ``usage.request_url``)."""
    ctx = context(request)
    cache: Fingerprint = request.app.state.fingerprint
    fingerprint = cache.known() or await run_in_threadpool(cache.get, ctx.index.storage)
    counts = None
    if not ctx.settings.private:  # a private index tells its size only to its readers
        counted: Counted = request.app.state.counts
        counts = await run_in_threadpool(counted.get, ctx.index.sessions)
    url = usage.request_url(ctx.settings, request.scope["scheme"], request.headers.get("host"))
    # The page depends on the Host header: a shared cache must not hand one host's page
    # to another's clients.
    headers = {**templating.PAGE_HEADERS, "cache-control": "no-cache", "vary": "Host"}
    page = render(url, fingerprint, ctx.settings.private, counts)
    return HTMLResponse(page, headers=headers)
