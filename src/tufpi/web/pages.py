"""The pages for people: ``/project/<name>/``, ``/project/<name>/<version>/``,
``/project/<name>/history/``, ``/search/`` and ``/trust/`` (the home page is ``home``).

Every page is the same for every visitor (nothing about who asks is on it), so a project's
pages are rendered once per state of the project and kept in a ``RenderCache`` of their own,
keyed by ``showcase.version_key``: the project's serial (every upload, yank and removal
bumps it) and the count of its changes the signer has not published yet (so a file's
"pending" turns into its snapshot). Each answer carries an ETag and ``no-cache``: a
browser revalidates, and gets 304 when nothing changed. On a private index each page
needs what the simple API needs (``WebContext.check_read``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tufpi.index import search, showcase
from tufpi.index.errors import NotFound
from tufpi.index.names import normalize
from tufpi.index.search_words import MAX_QUERY, MAX_TERMS, parse_query
from tufpi.trust import log as trust_log
from tufpi.web import pages_view as view
from tufpi.web.context import Body, RenderCache, WebContext, context
from tufpi.web.templating import PAGE_HEADERS, page, render

HISTORY_LIMIT = 500
TRUST_CHANGES = 50
_HTML = "text/html; charset=utf-8"
_MAX_NAME = 200
# Search answers kept (``search_body``): a page is some 10 KB, and as much again gzipped.
SEARCH_CACHE_SIZE = 1024


def _headers(ctx: WebContext, etag: str) -> dict[str, str]:
    scope = "private" if ctx.settings.private else "public"
    return {
        **PAGE_HEADERS,
        "etag": f'"{etag}"',
        "cache-control": f"{scope}, no-cache",
        "vary": "Accept-Encoding",
    }


def answer(request: Request, ctx: WebContext, body: Body, etag: str) -> Response:
    """A page with its ETag: 304 when the browser has it, gzip when it takes it."""
    headers = _headers(ctx, etag)
    if f'"{etag}"' in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if body.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(body.gzipped, media_type=_HTML, headers=headers)
    return Response(body.plain, media_type=_HTML, headers=headers)


def not_found(message: str, query: str = "") -> Response:
    """The 404 page: HTML for a browser, with a search for what was asked."""
    return page("not_found.html", status=404, message=message, query=query[:_MAX_NAME])


async def _check_read(ctx: WebContext, request: Request) -> None:
    if ctx.settings.private:
        await run_in_threadpool(ctx.check_read, request)


def _cache(request: Request) -> RenderCache:
    """The pages' own cache: apart from the simple pages' (``WebContext.pages``), so that
    requests for many versions of many projects cannot push the simple pages out."""
    cache: RenderCache = request.app.state.page_cache
    return cache


def _redirect(request: Request, path: str) -> Response:
    return RedirectResponse(str(request.url.replace(path=path)), status_code=301)


# -- /project/<name>/ and /project/<name>/<version>/ -----------------------------------------


def project_values(shown: showcase.Showcase, version: str | None) -> dict[str, Any]:
    """What ``project.html`` shows of ``shown`` at ``version`` (None: the latest).
    Raises NotFound."""
    detail = shown.detail
    release = view.pick(detail.releases, version)
    if release is None:
        raise NotFound(f"{detail.page.name} has no release {version}.")
    latest = view.pick(detail.releases, None)
    metadata = release.core_metadata or {}
    files = [
        {**row.__dict__, "size_text": view.size_text(row.size)}
        for row in view.file_rows(
            (f for f in detail.page.files if f.version == release.version),
            shown.signing,
            shown.number_of_bins,
        )
    ]
    return {
        "name": detail.page.name,
        "normalized": detail.page.normalized_name,
        "release": release,
        "latest": latest.version if latest else None,
        "is_latest": latest is not None and latest.version == release.version,
        "summary": metadata.get("summary"),
        "author": metadata.get("author") or metadata.get("author_email"),
        "license": metadata.get("license_expression") or metadata.get("license"),
        "keywords": view.keywords(metadata),
        "links": view.links(metadata),
        "dependencies": view.dependencies(metadata),
        "description_html": view.description_html(
            release.description, metadata.get("description_content_type")
        ),
        "description": release.description or "",
        "files": files,
        "history": view.history(shown),
        "query": "",
    }


def _render_project(ctx: WebContext, normalized: str, version: str | None) -> bytes:
    shown = showcase.showcase(ctx.index.sessions, normalized)
    return render("project.html", **project_values(shown, version)).encode()


async def project_page(request: Request) -> Response:
    """A project at its latest release, or at ``version``."""
    ctx = context(request)
    name = request.path_params["project"]
    version: str | None = request.path_params.get("version")
    normalized = normalize(name)
    if name != normalized or not request.url.path.endswith("/"):
        tail = f"{version}/" if version else ""
        return _redirect(request, f"/project/{normalized}/{tail}")
    await _check_read(ctx, request)

    def build() -> tuple[Body, str]:
        key = showcase.version_key(ctx.index.sessions, normalized)
        if key is None:
            raise NotFound(f"No project named {name[:_MAX_NAME]!r}.")
        body = _cache(request).get(
            ("project", normalized, version, *key),
            lambda: _render_project(ctx, normalized, version),
        )
        return body, f"p{key[0]}-{key[1]}-{len(body.plain)}"

    try:
        body, etag = await run_in_threadpool(build)
    except NotFound as e:
        return not_found(e.message, name)
    return answer(request, ctx, body, etag)


# -- /project/<name>/history/ -------------------------------------------------------------------


def _render_history(ctx: WebContext, normalized: str) -> bytes:
    changes = trust_log.recent_changes(ctx.index.sessions, HISTORY_LIMIT, project=normalized)
    journal = ctx.maintainers.journal(normalized, HISTORY_LIMIT)
    try:
        name = showcase.showcase(ctx.index.sessions, normalized).detail.page.name
    except NotFound:
        if not changes and not journal:
            raise
        name = normalized  # removed: its log and journal stay
    values = {"name": name, "normalized": normalized, "changes": changes, "journal": journal}
    return render("history.html", **values, limit=HISTORY_LIMIT, query="").encode()


async def history_page(request: Request) -> Response:
    """The project's journal (who did what, and how) and its transaction log (every target
    change, by whom, and the snapshot that published it)."""
    ctx = context(request)
    name = request.path_params["project"]
    normalized = normalize(name)
    if name != normalized:
        return _redirect(request, f"/project/{normalized}/history/")
    await _check_read(ctx, request)

    def build() -> tuple[Body, str]:
        key = showcase.history_key(ctx.index.sessions, normalized)
        if key is None:  # a removed project: not cached (its log no longer changes anyway)
            body = Body.of(_render_history(ctx, normalized))
            return body, "h-" + hashlib.sha256(body.plain).hexdigest()[:32]
        body = ctx.pages.get(
            ("history", normalized, *key), lambda: _render_history(ctx, normalized)
        )
        return body, f"h{key[0]}-{key[1]}-{key[2]}-{len(body.plain)}"

    try:
        body, etag = await run_in_threadpool(build)
    except NotFound:
        return not_found(f"No project named {name[:_MAX_NAME]!r}.", name)
    return answer(request, ctx, body, etag)


# -- /search/ -----------------------------------------------------------------------------------


def _page_number(raw: str | None) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        return 1
    return max(1, int(raw))


def _render_search(sessions: sessionmaker[Session], shown: str, cut: bool, number: int) -> bytes:
    results = search.search(sessions, shown, number) if shown else None
    if results is not None and cut and not results.query.cut:
        results = dataclasses.replace(results, query=dataclasses.replace(results.query, cut=True))
    return render(
        "search.html",
        query=shown,
        results=results,
        page_size=search.PAGE_SIZE,
        max_query=MAX_QUERY,
        max_terms=MAX_TERMS,
    ).encode()


def search_body(
    sessions: sessionmaker[Session], cache: RenderCache, raw: str, number: int
) -> tuple[Body, str]:
    """Page ``number`` of the answer to ``raw`` and its ETag, from ``cache`` when the same
    query was answered since the search index last changed (``search.generation``).

    The key is the query as shown: its text case-folded with its spaces collapsed (at most
    MAX_QUERY characters), so "Foo  bar" and "foo bar" share an entry; the answer is
    rendered from that text, so an entry holds what any of its queries would get. The
    exact-name match is kept: "foo.bar" and "foo bar" have the same terms but are two keys.
    """
    query = parse_query(raw)
    shown = " ".join(query.text.casefold().split())
    newest, recent = search.generation(sessions)
    body = cache.get(
        ("search", shown, query.cut, number, newest, recent),
        lambda: _render_search(sessions, shown, query.cut, number),
    )
    return body, f"s{newest}-{recent}-" + hashlib.sha256(body.plain).hexdigest()[:32]


def _search_cache(request: Request) -> RenderCache:
    """Search's own cache, apart from the project pages' and the simple pages' (so that
    many distinct queries cannot push those out); bounded in entries, and each key in
    size (a query is cut to MAX_QUERY characters)."""
    cache: RenderCache = request.app.state.search_cache
    return cache


async def search_page(request: Request) -> Response:
    """``/search/?q=&page=``: projects by name and summary, the exact name first."""
    ctx = context(request)
    await _check_read(ctx, request)
    raw = request.query_params.get("q", "")[: MAX_QUERY * 4]
    number = _page_number(request.query_params.get("page"))
    cache = _search_cache(request)
    body, etag = await run_in_threadpool(search_body, ctx.index.sessions, cache, raw, number)
    return answer(request, ctx, body, etag)
