"""Pure checks of what a browser sends with a form (issue 16): the CSRF token, the
``Origin`` header, where to go after signing in, and the cookies' attributes. No I/O: the
routes (``web.browser``) pass the request's values in.

Cross-site request forgery is refused three ways, any one of which suffices for a browser
of today: the session cookie is ``SameSite=Lax`` (a form posted from another site does not
carry it), every form carries the session's CSRF token (another site cannot read it), and a
post whose ``Origin`` names another origin is refused (OWASP's "verifying origin with
standard headers").
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from urllib.parse import urlsplit

SESSION_COOKIE = "tufpi_session"
LOGIN_CSRF_COOKIE = "tufpi_csrf"
FLASH_COOKIE = "tufpi_flash"
CSRF_FIELD = "csrf_token"
MAX_NEXT = 2000  # characters of a next= path


def tokens_match(expected: str | None, sent: str | None) -> bool:
    """Whether the form's CSRF token is the one expected, compared in constant time; never
    when either is missing or empty."""
    if not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, the default port left out, as a
    browser writes an ``Origin`` header."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{host}{port}"


def origin_allowed(origin: str | None, own: Collection[str]) -> bool:
    """Whether a post with this ``Origin`` header may go on: when absent (older browsers
    and non-browser clients send none; the CSRF token still guards) or one of this index's
    own origins ``own``. ``null`` (a sandboxed or privacy-redirected form) is another."""
    if origin is None:
        return True
    return origin.strip().lower().rstrip("/") in own


def local_path(target: str | None, default: str = "/manage/") -> str:
    """``target`` if it is a path on this site, else ``default``: after signing in the
    browser goes there, so a link to ``/account/login/?next=https://evil.example/`` must not
    send it away (an open redirect). Refused: anything not starting with one ``/``,
    ``//host`` and ``/\\host`` (browsers read both as another host), a scheme, control
    characters and backslashes anywhere."""
    if not target or len(target) > MAX_NEXT:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def cookie_secure(request_scheme: str, public_url: str) -> bool:
    """Whether cookies get ``Secure``: the request came over https, or the index's public
    URL is https (a TLS-terminating proxy in front that talks plain HTTP to it)."""
    return request_scheme == "https" or public_url.lower().startswith("https://")
