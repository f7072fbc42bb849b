"""What the signed-in pages share (issue 16): the session behind a request's cookie, the
checks every form post passes (``guards``), its bounded body, the redirect after a post and
its flash message, and the cookies' attributes.

A flash message rides in a short-lived cookie signed (HMAC-SHA256) with the session's CSRF
token, or before sign-in with the sign-in form's cookie: another site cannot plant a message
on our pages, and a message never outlives the session it was written for.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tufpi.index.errors import Forbidden, IndexProblem, InvalidRequest, UploadTooLarge
from tufpi.index.logins import WebUser
from tufpi.web import guards
from tufpi.web.context import WebContext, context

FORM_BYTES = 64 * 1024  # every form of ours is a few hundred bytes
FORM_FIELDS = 20
FLASH_SECONDS = 60
LOGIN_PATH = "/account/login/"
CSRF_REFUSED = (
    "Refused: this form did not come from a page of this index (its CSRF token is missing "
    "or wrong). Nothing was changed. Reload the page and try again."
)
ORIGIN_REFUSED = (
    "Refused: this form was posted from another site (Origin {origin}). Nothing was changed."
)


class Unsupported(IndexProblem):
    """A form post in another encoding than ``application/x-www-form-urlencoded`` (415)."""

    status = 415


def secure(ctx: WebContext, request: Request) -> bool:
    """Whether this request's cookies get ``Secure``."""
    return guards.cookie_secure(request.url.scheme, ctx.settings.public_url)


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set one of our cookies: HttpOnly, SameSite=Lax, Path=/, Secure on https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure(context(request), request),
    )


def drop_cookie(response: Response, request: Request, name: str) -> None:
    """Delete one of our cookies."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=secure(context(request), request)
    )


async def web_user(request: Request) -> WebUser | None:
    """The live session behind the request's cookie (complete or not), or None."""
    secret = request.cookies.get(guards.SESSION_COOKIE)
    if not secret:
        return None
    return await run_in_threadpool(context(request).logins.current, secret)


def to_sign_in(request: Request) -> RedirectResponse:
    """303 to the sign-in page, coming back here after (to ``/manage/`` after a post: a
    form's address answers only posts)."""
    query = f"?{request.url.query}" if request.url.query else ""
    here = guards.local_path(request.url.path + query if request.method == "GET" else None)
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(here, safe='/')}", status_code=303)


async def signed_in(request: Request) -> WebUser | RedirectResponse:
    """The complete session behind the request, or the redirect to sign in first."""
    user = await web_user(request)
    if user is None or not user.complete:
        return to_sign_in(request)
    return user


def own_origins(ctx: WebContext, request: Request) -> set[str]:
    """The origins this index answers as: the request's own, and the public URL's."""
    origins = {guards.origin_of(str(request.base_url))}
    if ctx.settings.public_url:
        origins.add(guards.origin_of(ctx.settings.public_url))
    return origins


async def posted_form(request: Request, expected_csrf: str | None) -> dict[str, str]:
    """The form of a post that passed the cross-site checks: ``Origin`` absent or ours,
    the body url-encoded and bounded, its ``csrf_token`` the ``expected_csrf``.

    Raises:
        Forbidden: another origin, or a missing or wrong CSRF token.
        Unsupported: not a url-encoded form. UploadTooLarge: over ``FORM_BYTES``.
    """
    form = await form_from_here(request)
    require_token(form, expected_csrf)
    return form


async def form_from_here(request: Request) -> dict[str, str]:
    """The form of a post whose ``Origin`` is absent or ours (its token is checked next,
    with ``require_token``). Raises as ``posted_form``."""
    origin = request.headers.get("origin")
    if not guards.origin_allowed(origin, own_origins(context(request), request)):
        raise Forbidden(ORIGIN_REFUSED.format(origin=origin))
    return await _read_form(request)


def require_token(form: dict[str, str], expected_csrf: str | None) -> None:
    """Raises Forbidden unless the form's ``csrf_token`` is ``expected_csrf``."""
    if not guards.tokens_match(expected_csrf, form.get(guards.CSRF_FIELD)):
        raise Forbidden(CSRF_REFUSED)


async def _read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Unsupported("Forms are posted url-encoded (application/x-www-form-urlencoded).")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES:
            raise UploadTooLarge(f"A form may have at most {FORM_BYTES} bytes.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidRequest(f"Refused: the form could not be read ({e}).") from e
    return dict(pairs)


# -- flash messages ---------------------------------------------------------------------------


def _mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def flash_value(key: str, message: str, error: bool = False) -> str:
    """The cookie value carrying ``message`` (an error's, or a success's), signed with
    ``key``."""
    data = ("E" if error else "I").encode() + message.encode()[:1000]
    return base64.urlsafe_b64encode(data).decode() + "." + _mac(key, data)


@dataclasses.dataclass(frozen=True)
class Flash:
    """A message shown once, on the page a post redirected to."""

    text: str
    error: bool


def flash_of(value: str | None, key: str | None) -> Flash | None:
    """The message a flash cookie carries, if ``key`` signed it; else None."""
    if not value or not key or "." not in value:
        return None
    encoded, mac = value.rsplit(".", 1)
    try:
        data = base64.urlsafe_b64decode(encoded.encode())
    except (binascii.Error, ValueError):
        return None
    if not data or not hmac.compare_digest(mac, _mac(key, data)):
        return None
    return Flash(data[1:].decode(errors="replace"), data[:1] == b"E")


def see_other(
    request: Request, url: str, key: str | None, message: str | None, error: bool = False
) -> Response:
    """The 303 after a post, with a flash ``message`` signed by ``key``."""
    response = RedirectResponse(url, status_code=303)
    if message and key:
        value = flash_value(key, message, error)
        set_cookie(response, request, guards.FLASH_COOKIE, value, FLASH_SECONDS)
    return response


def with_flash(request: Request, key: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` for a page, with ``flash``: the message waiting for this browser."""
    return {**values, "flash": flash_of(request.cookies.get(guards.FLASH_COOKIE), key)}


def shown(request: Request, response: Response) -> Response:
    """``response`` that displayed the flash, which then is dropped; never cached."""
    if guards.FLASH_COOKIE in request.cookies:
        drop_cookie(response, request, guards.FLASH_COOKIE)
    response.headers["cache-control"] = "no-store"
    return response
