"""Signing in and out, and the account's own page (issue 16): ``/account/login/``,
``/account/logout/``, ``/manage/account/`` (password, two-factor sign-in).

The sign-in form has no session yet: its CSRF token is a double-submit cookie
(``tufpi_csrf``, also in the form), so another site cannot sign a browser in to an account
of its choosing (login CSRF). Once the password is right, an account with TOTP gets an
incomplete session and the same page asks for the code; ``next`` is followed only to a path
of this site (``guards.local_path``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tufpi.index import totp
from tufpi.index.errors import Busy, IndexProblem
from tufpi.index.logins import Started
from tufpi.index.passwords import WAIT_SECONDS
from tufpi.index.signin import PENDING_LIFETIME, SESSION_LIFETIME
from tufpi.web import browser, guards
from tufpi.web.context import context
from tufpi.web.templating import page

ACCOUNT_PATH = "/manage/account/"
LOGIN_COOKIE_SECONDS = 3600
T = TypeVar("T")


async def _hashing(request: Request, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, which hashes a password, in a thread of ``sign_in_limiter``; Busy
    when no thread was free within ``WAIT_SECONDS`` (the wait is bounded, not the queue)."""
    limiter = context(request).sign_in_limiter
    done: list[T] = []
    with anyio.move_on_after(WAIT_SECONDS):
        done.append(await anyio.to_thread.run_sync(call, *args, limiter=limiter))
    if not done:
        raise Busy("Too many sign-ins at once: try again in a few seconds.", retry_after=5)
    return done[0]


def _login_key(request: Request) -> str | None:
    return request.cookies.get(guards.LOGIN_CSRF_COOKIE)


async def login_page(request: Request) -> Response:
    """``GET /account/login/``: the password form, or the code form of an incomplete
    session; a complete one goes straight on to ``next``."""
    target = guards.local_path(request.query_params.get("next"))
    user = await browser.web_user(request)
    if user is not None and user.complete:
        return RedirectResponse(target, status_code=303)
    if user is not None:
        return _code_form(request, user.csrf, target, None, 200)
    return _login_form(request, target, None, 200)


def _login_form(request: Request, target: str, error: str | None, status: int) -> Response:
    """The password step, with the sign-in cookie its CSRF token doubles."""
    key = _login_key(request) or secrets.token_urlsafe(32)
    values = browser.with_flash(request, key, {"next": target, "error": error, "csrf": key})
    response = page("account_login.html", status=status, **values)
    browser.set_cookie(response, request, guards.LOGIN_CSRF_COOKIE, key, LOGIN_COOKIE_SECONDS)
    return browser.shown(request, response)


def _code_form(
    request: Request, csrf: str, target: str, error: str | None, status: int
) -> Response:
    """The second step: the TOTP code, posted with the incomplete session's CSRF token."""
    response = page(
        "account_totp.html", status=status, next=target, error=error, csrf=csrf, flash=None
    )
    return browser.shown(request, response)


async def login(request: Request) -> Response:
    """``POST /account/login/``: the password step, or the code step of an incomplete
    session."""
    user = await browser.web_user(request)
    form = await browser.form_from_here(request)
    if user is not None and not user.complete and "code" in form:
        return await _code_step(request, form, user.csrf)
    browser.require_token(form, _login_key(request))
    target = guards.local_path(form.get("next"))
    ctx = context(request)
    try:
        started = await _hashing(
            request, ctx.logins.sign_in, form.get("name", ""), form.get("password", "")
        )
    except IndexProblem as e:
        return _login_form(request, target, e.message, e.status)
    return _started(request, started, target)


async def _code_step(request: Request, form: dict[str, str], csrf: str) -> Response:
    browser.require_token(form, csrf)
    target = guards.local_path(form.get("next"))
    ctx = context(request)
    secret = request.cookies.get(guards.SESSION_COOKIE, "")
    try:
        started = await run_in_threadpool(ctx.logins.second_factor, secret, form.get("code", ""))
    except IndexProblem as e:
        return _code_form(request, csrf, target, e.message, e.status)
    return _started(request, started, target)


def _started(request: Request, started: Started, target: str) -> Response:
    """After a right password or code: the session's cookie, then ``next`` (or the code)."""
    if started.complete:
        response = browser.see_other(request, target, started.csrf, "You are signed in.")
    else:
        response = RedirectResponse(
            f"{browser.LOGIN_PATH}?next={quote(target, safe='/')}", status_code=303
        )
    max_age = int((SESSION_LIFETIME if started.complete else PENDING_LIFETIME).total_seconds())
    browser.set_cookie(response, request, guards.SESSION_COOKIE, started.secret, max_age)
    return response


async def logout(request: Request) -> Response:
    """``POST /account/logout/``: end the session (its row is deleted)."""
    user = await browser.web_user(request)
    key = secrets.token_urlsafe(32)
    if user is None:
        response = browser.see_other(request, browser.LOGIN_PATH, key, "You were not signed in.")
    else:
        await browser.posted_form(request, user.csrf)
        secret = request.cookies.get(guards.SESSION_COOKIE, "")
        await run_in_threadpool(context(request).logins.sign_out, secret)
        response = browser.see_other(request, browser.LOGIN_PATH, key, "You are signed out.")
    browser.drop_cookie(response, request, guards.SESSION_COOKIE)
    browser.set_cookie(response, request, guards.LOGIN_CSRF_COOKIE, key, LOGIN_COOKIE_SECONDS)
    return response


async def account_page(request: Request) -> Response:
    """``GET /manage/account/``: change the password; turn two-factor sign-in on or off."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    secret = totp.new_secret()
    values = {
        "user": user,
        "csrf": user.csrf,
        "totp_secret": secret,
        "totp_uri": totp.uri(secret, user.user_name),
    }
    response = page("manage_account.html", **browser.with_flash(request, user.csrf, values))
    return browser.shown(request, response)


async def account_action(request: Request) -> Response:
    """``POST /manage/account/{action}``: ``password``, ``2fa-enable``, ``2fa-disable``;
    then back to the account page with what happened."""
    user = await browser.signed_in(request)
    if isinstance(user, Response):
        return user
    action = request.path_params["action"]
    form = await browser.posted_form(request, user.csrf)
    logins = context(request).logins
    try:
        if action == "password":
            if form.get("new_password", "") != form.get("repeat_password", ""):
                return browser.see_other(
                    request, ACCOUNT_PATH, user.csrf, "The two new passwords differ.", error=True
                )
            await _hashing(
                request,
                logins.change_password,
                user,
                form.get("current_password", ""),
                form.get("new_password", ""),
            )
            done = "Your password is changed; your other sessions are signed out."
        elif action == "2fa-enable":
            await run_in_threadpool(
                logins.enable_totp, user, form.get("secret", ""), form.get("code", "")
            )
            done = "Two-factor sign-in is on: you will be asked for a code at each sign-in."
        elif action == "2fa-disable":
            await run_in_threadpool(logins.disable_totp, user, form.get("code", ""))
            done = "Two-factor sign-in is off."
        else:
            return Response("No such action.\n", status_code=404, media_type="text/plain")
    except IndexProblem as e:
        return browser.see_other(request, ACCOUNT_PATH, user.csrf, e.message, error=True)
    return browser.see_other(request, ACCOUNT_PATH, user.csrf, done)
