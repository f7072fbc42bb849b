"""The ASGI application factory: everything is built here from settings, nothing at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tufpi.index.errors import IndexProblem
from tufpi.index.inspector import Inspector, bounds_of
from tufpi.index.logins import LoginService
from tufpi.index.passwords import Passwords
from tufpi.services import Services
from tufpi.signer import running
from tufpi.web import account, api, manage
from tufpi.web.context import RenderCache, WebContext, answer_problem
from tufpi.web.files import download
from tufpi.web.home import Counted, Fingerprint, home
from tufpi.web.jsonapi import project_json
from tufpi.web.logfiles import log_file
from tufpi.web.metadata import metadata_file
from tufpi.web.metrics import StatusCache, metrics
from tufpi.web.pages import SEARCH_CACHE_SIZE, history_page, project_page, search_page
from tufpi.web.pages_trust import KeyCache, trust_page
from tufpi.web.simple import consistent_page, simple_index, simple_project
from tufpi.web.upload import BodyLimit, legacy_upload

log = logging.getLogger("tufpi")


class CompressMetadata:
    """HTTP compression (gzip) for pages and metadata only: distributions are already
    compressed, and compressing them would break range requests."""

    _PREFIXES = ("/simple/", "/tuf/", "/pypi/")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=512)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class QuietDisconnects:
    """A client that went away mid-body (or that the server cut off for sending it too
    slowly: ``tufpi.http.protocol``) is not a server error: no traceback for it, nothing to
    answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.debug("client disconnected before its request body was read: %s", scope["path"])


def build_context(services: Services) -> WebContext:
    """The services the web routes use."""
    settings = services.settings
    return WebContext(
        settings=settings,
        index=services.index,
        accounts=services.accounts,
        pages=RenderCache(),
        inspector=Inspector(
            bounds_of(settings), settings.upload_concurrency, settings.inspect_processes
        ),
        # A token per admitted upload: Inspector.admit refuses more, so none waits here.
        upload_limiter=anyio.CapacityLimiter(settings.upload_concurrency),
        maintainers=services.maintainers,
        logins=LoginService(services.sessions, services.index.writes, Passwords(), services.clock),
        mirror=services.mirror(),
    )


def create_app(services: Services, signer: Sequence[str] | None = None) -> Starlette:
    """Build the index's ASGI app; with ``signer`` (a ``tufpi signer`` command line) it
    also runs that signer while it serves (``tufpi.signer.running``)."""
    routes = [
        Route("/", home),
        Route("/simple/", simple_index),
        Route("/simple/{project}/", simple_project),
        Route("/simple/{project}", simple_project),
        Route("/simple/{project}/{filename}", consistent_page),
        Route("/legacy/", legacy_upload, methods=["POST"]),
        Route("/pypi/{project}/json", project_json),
        Route("/pypi/{project}/{version}/json", project_json),
        Route("/packages/{path:path}", download, methods=["GET", "HEAD"]),
        Route("/tuf/{filename}", metadata_file, methods=["GET", "HEAD"]),
        Route("/tlog/{path:path}", log_file, methods=["GET", "HEAD"]),
        Route("/metrics", metrics),
        # The pages for people (issue 16): projects, releases, history, search, trust.
        Route("/project/{project}/", project_page),
        Route("/project/{project}", project_page),
        Route("/project/{project}/history/", history_page),
        Route("/project/{project}/{version}/", project_page),
        Route("/search/", search_page),
        Route("/trust/", trust_page),
        # The management API: owners, yanks, removals, tokens (token auth only).
        *api.ROUTES,
        # Sign-in and the maintainer's own pages (issue 16: web.account, web.manage).
        Route("/account/login/", account.login_page, methods=["GET"]),
        Route("/account/login/", account.login, methods=["POST"]),
        Route("/account/logout/", account.logout, methods=["POST"]),
        Route("/manage/", manage.projects_page, methods=["GET"]),
        Route("/manage/account/", account.account_page, methods=["GET"]),
        Route("/manage/account/tokens/", manage.tokens_page, methods=["GET"]),
        Route("/manage/account/tokens/", manage.token_create, methods=["POST"]),
        Route(
            "/manage/account/tokens/{token_id:int}/revoke", manage.token_revoke, methods=["POST"]
        ),
        Route("/manage/account/{action}", account.account_action, methods=["POST"]),
        Route("/manage/project/{project}/", manage.project_page, methods=["GET"]),
        Route("/manage/project/{project}/{action}", manage.project_action, methods=["POST"]),
        # The pages' stylesheet (no script: ``web.templating``).
        Mount("/static", StaticFiles(packages=[("tufpi.web", "static")]), name="static"),
    ]
    ctx = build_context(services)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(ctx.inspector.close)
            if ctx.mirror is not None:
                stack.callback(ctx.mirror.close)
            ctx.inspector.start()
            if signer is not None:
                await stack.enter_async_context(running(signer))
            yield

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(QuietDisconnects),
            Middleware(BodyLimit, limit=services.settings.max_upload_bytes),
            Middleware(CompressMetadata),
        ],
        # A refusal (IndexProblem) raised by any route is answered by one handler.
        exception_handlers={IndexProblem: answer_problem},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.metrics = StatusCache(services.settings.metrics_max_age)
    app.state.fingerprint = Fingerprint()
    app.state.counts = Counted()
    app.state.trust_keys = KeyCache()
    app.state.page_cache = RenderCache(1024)
    app.state.search_cache = RenderCache(SEARCH_CACHE_SIZE)
    return app
