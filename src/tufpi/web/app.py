"""The ASGI application factory: everything is built here from settings, nothing at import."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tufpi.config import Settings
from tufpi.db import make_engine, make_sessionmaker
from tufpi.index.service import Clock, IndexService, utcnow
from tufpi.storage import LocalStorage, Storage
from tufpi.web.context import RenderCache, WebContext
from tufpi.web.files import download
from tufpi.web.jsonapi import project_json
from tufpi.web.simple import simple_index, simple_project
from tufpi.web.upload import BodyLimit, legacy_upload

_HOME = """<!DOCTYPE html><html><head><title>tufpi</title></head><body>
<h1>tufpi</h1>
<p>A Python package index that signs its repository metadata (PEP 458).</p>
<ul><li><a href="/simple/">/simple/</a>: the simple API for pip, uv and poetry</li>
<li><code>/legacy/</code>: the upload API for twine and <code>uv publish</code></li></ul>
</body></html>
"""


async def home(_request: Request) -> Response:
    return HTMLResponse(_HOME)


def build_context(
    settings: Settings, clock: Clock = utcnow, storage: Storage | None = None
) -> WebContext:
    """The services the web app uses, from settings."""
    engine = make_engine(settings.effective_database_url)
    store = storage or LocalStorage(settings.effective_storage_dir)
    index = IndexService(make_sessionmaker(engine), store, clock)
    return WebContext(settings=settings, index=index, pages=RenderCache())


def create_app(settings: Settings, ctx: WebContext | None = None) -> Starlette:
    """Build the index's ASGI app."""
    routes = [
        Route("/", home),
        Route("/simple/", simple_index),
        Route("/simple/{project}/", simple_project),
        Route("/simple/{project}", simple_project),
        Route("/legacy/", legacy_upload, methods=["POST"]),
        Route("/pypi/{project}/json", project_json),
        Route("/pypi/{project}/{version}/json", project_json),
        Route("/packages/{path:path}", download, methods=["GET", "HEAD"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, limit=settings.max_upload_bytes)],
    )
    app.state.ctx = ctx or build_context(settings)
    return app
