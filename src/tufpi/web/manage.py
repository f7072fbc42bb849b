"""A maintainer's own pages (issue 16): ``/manage/`` (your projects),
``/manage/account/tokens/`` (API tokens) and ``/manage/project/<name>/`` (owners, yanking,
removal). Each form posts, passes ``browser.posted_form`` (Origin, CSRF token), calls
``MaintainerService`` as the session's ``Identity`` (journal ``via="web"``), then redirects
(303) to its page with what happened. The service decides what an owner may do.

A removal asks to type what is removed (the version, or the filename), as PyPI does: a
mistaken click removes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tufpi.index.errors import Forbidden, IndexProblem, InvalidRequest
from tufpi.index.logins import WebUser
from tufpi.index.names import normalize
from tufpi.web import browser
from tufpi.web.context import context
from tufpi.web.templating import page

TOKENS_PATH = "/manage/account/tokens/"


async def projects_page(request: Request) -> Response:
    """``GET /manage/``: the projects the signed-in account owns."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    names = await run_in_threadpool(context(request).maintainers.owned_projects, user.identity())
    values = {"user": user, "csrf": user.csrf, "projects": names}
    response = page("manage_projects.html", **browser.with_flash(request, user.csrf, values))
    return browser.shown(request, response)


# -- tokens -------------------------------------------------------------------------------------


async def tokens_page(request: Request) -> Response:
    """``GET /manage/account/tokens/``: the account's tokens, and the form for a new one."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    return await _tokens(request, user, None)


async def _tokens(request: Request, user: WebUser, secret: str | None) -> Response:
    maintainers = context(request).maintainers
    who = user.identity()
    tokens = await run_in_threadpool(maintainers.tokens, who)
    projects = await run_in_threadpool(maintainers.owned_projects, who)
    values = {
        "user": user,
        "csrf": user.csrf,
        "tokens": tokens,
        "projects": projects,
        "secret": secret,
    }
    response = page("manage_tokens.html", **browser.with_flash(request, user.csrf, values))
    return browser.shown(request, response)


async def token_create(request: Request) -> Response:
    """``POST /manage/account/tokens/``: a new token, whose secret this answer shows once
    (never in a redirect, a URL or a cookie; ``cache-control: no-store``)."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    form = await browser.posted_form(request, user.csrf)
    maintainers = context(request).maintainers
    try:
        secret = await run_in_threadpool(
            maintainers.create_token,
            user.identity(),
            form.get("project") or None,
            form.get("description", ""),
        )
    except IndexProblem as e:
        return browser.see_other(request, TOKENS_PATH, user.csrf, e.message, error=True)
    return await _tokens(request, user, secret)


async def token_revoke(request: Request) -> Response:
    """``POST /manage/account/tokens/{token_id}/revoke``."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    await browser.posted_form(request, user.csrf)
    maintainers = context(request).maintainers
    token_id = request.path_params["token_id"]
    try:
        await run_in_threadpool(maintainers.revoke_token, user.identity(), token_id)
    except IndexProblem as e:
        return browser.see_other(request, TOKENS_PATH, user.csrf, e.message, error=True)
    return browser.see_other(request, TOKENS_PATH, user.csrf, f"Token {token_id} is revoked.")


# -- one project --------------------------------------------------------------------------------


def _path(name: str) -> str:
    return f"/manage/project/{normalize(name)}/"


async def project_page(request: Request) -> Response:
    """``GET /manage/project/{project}/``: owners, releases and files, with their forms.
    404 for no such project, 403 for one the account does not own."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    ctx = context(request)
    name = normalize(request.path_params["project"])
    owners = await run_in_threadpool(ctx.maintainers.owners, name)
    if user.user_name not in owners:
        raise Forbidden(f"You are not an owner of {name!r}: only its owners manage it.")
    detail = await run_in_threadpool(ctx.index.project_detail, name)
    files: dict[str, list[str]] = {}
    for file in detail.page.files:
        files.setdefault(file.version, []).append(file.filename)
    values = {
        "user": user,
        "csrf": user.csrf,
        "project": detail.page.name,
        "path": _path(name),
        "owners": owners,
        "releases": list(reversed(detail.releases)),
        "files": files,
    }
    response = page("manage_project.html", **browser.with_flash(request, user.csrf, values))
    return browser.shown(request, response)


Action = Callable[[Request, WebUser, str, dict[str, str]], Awaitable[str]]


async def _add_owner(request: Request, user: WebUser, project: str, form: dict[str, str]) -> str:
    name = form.get("user", "").strip()
    await run_in_threadpool(context(request).maintainers.add_owner, user.identity(), project, name)
    return f"{name} is now an owner of {project}."


async def _remove_owner(request: Request, user: WebUser, project: str, form: dict[str, str]) -> str:
    name = form.get("user", "")
    await run_in_threadpool(
        context(request).maintainers.remove_owner, user.identity(), project, name
    )
    return f"{name} is no longer an owner of {project}."


async def _yank(request: Request, user: WebUser, project: str, form: dict[str, str]) -> str:
    version = form.get("version", "")
    reason = form.get("reason", "").strip() or None
    await run_in_threadpool(
        context(request).maintainers.set_yanked, user.identity(), project, version, True, reason
    )
    return f"{project} {version} is yanked."


async def _unyank(request: Request, user: WebUser, project: str, form: dict[str, str]) -> str:
    version = form.get("version", "")
    await run_in_threadpool(
        context(request).maintainers.set_yanked, user.identity(), project, version, False, None
    )
    return f"{project} {version} is no longer yanked."


async def _remove_release(
    request: Request, user: WebUser, project: str, form: dict[str, str]
) -> str:
    version = form.get("version", "")
    _confirmed(form.get("confirm", ""), version, "version")
    removed = await run_in_threadpool(
        context(request).maintainers.remove, user.identity(), project, version, None
    )
    return f"Removed {project} {version} ({len(removed)} files)."


async def _remove_file(request: Request, user: WebUser, project: str, form: dict[str, str]) -> str:
    version, filename = form.get("version", ""), form.get("filename", "")
    _confirmed(form.get("confirm", ""), filename, "filename")
    await run_in_threadpool(
        context(request).maintainers.remove, user.identity(), project, version, filename
    )
    return f"Removed {filename}."


def _confirmed(typed: str, expected: str, what: str) -> None:
    """A removal goes on only when the ``what`` was typed exactly. Raises InvalidRequest."""
    if not expected or typed.strip() != expected:
        raise InvalidRequest(
            f"Nothing was removed: type the {what} ({expected}) in the box to confirm."
        )


ACTIONS: dict[str, Action] = {
    "owner-add": _add_owner,
    "owner-remove": _remove_owner,
    "yank": _yank,
    "unyank": _unyank,
    "release-remove": _remove_release,
    "file-remove": _remove_file,
}


async def project_action(request: Request) -> Response:
    """``POST /manage/project/{project}/{action}``: one of ``ACTIONS``, then back to the
    project's page with what happened, or why not."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    action = ACTIONS.get(request.path_params["action"])
    if action is None:
        return Response("No such action.\n", status_code=404, media_type="text/plain")
    form = await browser.posted_form(request, user.csrf)
    project = normalize(request.path_params["project"])
    try:
        done = await action(request, user, project, form)
    except IndexProblem as e:
        return browser.see_other(request, _path(project), user.csrf, e.message, error=True)
    return browser.see_other(request, _path(project), user.csrf, done)
