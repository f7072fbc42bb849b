"""``/api/v1/``: the management API maintainers (and ``tufpi --index URL``) call with a token.

Owners, yanks, removals and the caller's own tokens, through ``MaintainerService``, which
checks the rules and journals each change. Authentication is an account-wide API token
only (``Authorization: Bearer tufpi-...`` or Basic ``__token__``), never a cookie, so a web
page cannot make a browser call it (no CSRF surface); a token limited to one project may
only upload. Request bodies are JSON objects of at most ``MAX_BODY`` bytes (413 beyond, 415
for another media type, 400 for malformed JSON or fields); every refusal is the app's
plain-text ``IndexProblem`` answer, a sentence saying what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tufpi.index import permissions, tokens
from tufpi.index.accounts import Identity
from tufpi.index.errors import IndexProblem, InvalidRequest, NotFound, UploadTooLarge
from tufpi.index.maintainers import TokenView
from tufpi.web.context import WebContext, context

MAX_BODY = 64 * 1024
_NO_STORE = {"cache-control": "no-store"}
_MAX_ID_DIGITS = 18  # a longer token id is no token (the service bounds it further)


class UnsupportedMediaType(IndexProblem):
    """A body that is not JSON (415)."""

    status = 415


def _answer(value: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(value, status_code=status, headers=_NO_STORE)


def identify(ctx: WebContext, request: Request) -> Identity:
    """The caller, from its API token (Bearer, or Basic ``__token__``); never a cookie.

    Raises:
        NotAuthenticated: no token, or not a valid one.
        Forbidden: a token limited to one project (it may only upload).
    """
    header = request.headers.get("authorization")
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        credentials: tuple[str, str] | None = (tokens.TOKEN_USERNAME, value.strip())
    else:
        credentials = tokens.parse_basic_auth(header)
    who = ctx.accounts.authenticate(credentials)
    permissions.check_may_manage(who)
    return who


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object; ``{}`` for no body at all.

    Raises:
        UnsupportedMediaType: a body that is not ``application/json``.
        UploadTooLarge: over ``MAX_BODY`` bytes (declared or sent).
        InvalidRequest: not JSON, or not an object.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise UploadTooLarge(f"The request body is over {MAX_BODY} bytes, this API's limit.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise UploadTooLarge(f"The request body is over {MAX_BODY} bytes, this API's limit.")
    if not body:
        return {}
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(
            f"The request body must be application/json, not {media or 'untyped'}."
        )
    try:
        value = json.loads(bytes(body))
    except (ValueError, RecursionError) as e:
        raise InvalidRequest(f"The request body is not valid JSON: {_why(e)}.") from e
    if not isinstance(value, dict):
        raise InvalidRequest('The request body must be a JSON object, such as {"user": "bob"}.')
    return value


def _why(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it nests too deeply"
    return str(error).partition(":")[0] if isinstance(error, UnicodeDecodeError) else str(error)


def fields(
    body: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """The body's string fields: each of ``required`` a non-empty string, each of
    ``optional`` a string or null; any other field refused.

    Raises:
        InvalidRequest: a missing, mistyped or unknown field, said by name.
    """
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        takes = ", ".join((*required, *optional)) or "no fields"
        raise InvalidRequest(f"Unknown field {unknown[0]!r}: this request takes {takes}.")
    found: dict[str, str | None] = {}
    for name in (*required, *optional):
        value = body.get(name)
        if value is None and name in optional:
            found[name] = None
        elif not isinstance(value, str) or (name in required and not value):
            raise InvalidRequest(f"The field {name!r} must be a non-empty string.")
        else:
            found[name] = value
    return found


Handler = Callable[[Request, WebContext, Identity], Awaitable[Response]]


def _route(path: str, handler: Handler, method: str) -> Route:
    """A route of the API: the caller identified first (in a thread: a hash and a query)."""

    async def endpoint(request: Request) -> Response:
        ctx = context(request)
        who = await run_in_threadpool(identify, ctx, request)
        return await handler(request, ctx, who)

    return Route(f"/api/v1{path}", endpoint, methods=[method], name=f"api {method} {path}")


# -- owners ---------------------------------------------------------------------------------


async def list_owners(request: Request, ctx: WebContext, _who: Identity) -> Response:
    project = request.path_params["project"]
    return _answer({"owners": await run_in_threadpool(ctx.maintainers.owners, project)})


async def add_owner(request: Request, ctx: WebContext, who: Identity) -> Response:
    project = request.path_params["project"]
    user = fields(await read_json(request), ("user",))["user"]
    assert user is not None  # required
    await run_in_threadpool(ctx.maintainers.add_owner, who, project, user)
    return _answer({"owners": await run_in_threadpool(ctx.maintainers.owners, project)})


async def remove_owner(request: Request, ctx: WebContext, who: Identity) -> Response:
    project, user = request.path_params["project"], request.path_params["user"]
    await run_in_threadpool(ctx.maintainers.remove_owner, who, project, user)
    return _answer({"owners": await run_in_threadpool(ctx.maintainers.owners, project)})


# -- releases and files ---------------------------------------------------------------------


async def _set_yanked(request: Request, ctx: WebContext, who: Identity, yanked: bool) -> Response:
    project, version = request.path_params["project"], request.path_params["version"]
    reason = fields(await read_json(request), (), ("reason",))["reason"]
    reason = reason if yanked else None
    await run_in_threadpool(ctx.maintainers.set_yanked, who, project, version, yanked, reason)
    answer = {"project": project, "version": version, "yanked": yanked, "reason": reason or None}
    return _answer(answer)


async def yank(request: Request, ctx: WebContext, who: Identity) -> Response:
    return await _set_yanked(request, ctx, who, yanked=True)


async def unyank(request: Request, ctx: WebContext, who: Identity) -> Response:
    return await _set_yanked(request, ctx, who, yanked=False)


async def remove_release(request: Request, ctx: WebContext, who: Identity) -> Response:
    project, version = request.path_params["project"], request.path_params["version"]
    removed = await run_in_threadpool(ctx.maintainers.remove, who, project, version)
    return _answer({"removed": removed})


async def remove_file(request: Request, ctx: WebContext, who: Identity) -> Response:
    params = request.path_params
    removed = await run_in_threadpool(
        ctx.maintainers.remove, who, params["project"], params["version"], params["filename"]
    )
    return _answer({"removed": removed})


# -- the caller's tokens --------------------------------------------------------------------


def _token(view: TokenView) -> dict[str, Any]:
    return {
        "id": view.id,
        "user": view.user,
        "project": view.project,
        "description": view.description,
        "created": view.created.isoformat(),
        "revoked": view.revoked.isoformat() if view.revoked else None,
    }


async def list_tokens(_request: Request, ctx: WebContext, who: Identity) -> Response:
    views = await run_in_threadpool(ctx.maintainers.tokens, who)
    return _answer({"tokens": [_token(v) for v in views]})


async def create_token(request: Request, ctx: WebContext, who: Identity) -> Response:
    body = fields(await read_json(request), (), ("project", "description"))
    project, description = body["project"] or None, body["description"] or ""
    token_id, secret = await run_in_threadpool(
        ctx.maintainers.issue_token, who, project, description
    )
    return _answer({"id": token_id, "token": secret}, status=201)


async def revoke_token(request: Request, ctx: WebContext, who: Identity) -> Response:
    wanted = request.path_params["token_id"]
    if not wanted.isdigit() or len(wanted) > _MAX_ID_DIGITS:
        raise NotFound("No such token.")
    await run_in_threadpool(ctx.maintainers.revoke_token, who, int(wanted))
    return _answer({"revoked": int(wanted)})


_PROJECT = "/projects/{project}"
_RELEASE = _PROJECT + "/releases/{version}"
ROUTES = [
    _route(f"{_PROJECT}/owners", list_owners, "GET"),
    _route(f"{_PROJECT}/owners", add_owner, "POST"),
    _route(f"{_PROJECT}/owners/{{user}}", remove_owner, "DELETE"),
    _route(f"{_RELEASE}/yank", yank, "POST"),
    _route(f"{_RELEASE}/unyank", unyank, "POST"),
    _route(_RELEASE, remove_release, "DELETE"),
    _route(f"{_RELEASE}/files/{{filename}}", remove_file, "DELETE"),
    _route("/tokens", list_tokens, "GET"),
    _route("/tokens", create_token, "POST"),
    _route("/tokens/{token_id}", revoke_token, "DELETE"),
]
