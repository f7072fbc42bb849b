"""The verifying proxy as the installer's only HTTP proxy: requests for this proxy itself are
served, requests for any other host are refused.

What the core metadata cannot show (an sdist whose dependencies its build backend computes at
install time, ``Requires-Dist: payload @ http://host/payload.whl`` among them) the installer
learns only while it runs. ``tufpi install`` therefore runs pip with ``--proxy`` (which pip
forwards to the build-isolation subprocess) and the installer with ``HTTP_PROXY``,
``HTTPS_PROXY`` and ``ALL_PROXY`` set to this proxy and ``NO_PROXY`` removed, so that every
request it makes arrives here: for this proxy's own origin in absolute form
(``GET http://127.0.0.1:PORT/simple/x/``), answered as usual; for any other origin in absolute
form, or as ``CONNECT host:443`` for HTTPS, refused with a 403 that names the URL.

An ASGI middleware, pure of I/O beyond its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from tufpi.client.refusals import Refusal

__all__ = ["OnlyThisOrigin", "installer_proxy_env", "origin_of"]

# Builds the refusal's answer (the proxy's own ``refused``).
Refuse = Callable[[Refusal], ASGIApp]

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


def origin_of(url: str) -> str:
    """``scheme://host:port/`` of ``url`` (the proxy's own address, given its simple URL)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def installer_proxy_env(env: dict[str, str], proxy_url: str) -> dict[str, str]:
    """``env`` with every proxy variable (both spellings) set to ``proxy_url`` and the
    exceptions (``NO_PROXY``) removed: an installer, and what it runs (its build subprocess,
    ``git``), reaches no host but through the proxy."""
    out = {k: v for k, v in env.items() if k not in _NO_PROXY_VARIABLES}
    for name in _PROXY_VARIABLES:
        out[name] = out[name.lower()] = proxy_url
    return out


def _netloc(scope: Scope) -> str | None:
    server = scope.get("server")
    if not server or server[1] is None:
        return None
    host = str(server[0])
    return f"[{host}]:{server[1]}" if ":" in host else f"{host}:{server[1]}"


def _refusal(what: str) -> Refusal:
    return Refusal(
        f"the installer asked for {what!r}, another host than this verifying proxy: only "
        "verified targets are served (a direct URL dependency, or a URL a build backend "
        "gave, points elsewhere): refused"
    )


class OnlyThisOrigin:
    """Serve origin-form requests and absolute-form requests for this proxy's own origin;
    refuse absolute-form requests for other origins and ``CONNECT`` (403, naming the URL)."""

    def __init__(self, app: ASGIApp, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope["method"] == "CONNECT":
            await self.refuse(_refusal(f"CONNECT {raw}"))(scope, receive, send)
            return
        if raw.startswith("/"):
            await self.app(scope, receive, send)
            return
        target = urlsplit(raw)
        if target.scheme != "http" or target.netloc.lower() != _netloc(scope):
            await self.refuse(_refusal(raw))(scope, receive, send)
            return
        # The target's path is this proxy's: route it as the origin-form request it means.
        path = target.path or "/"
        routed = dict(scope, raw_path=path.encode("latin-1"), path=unquote(path))
        await self.app(routed, receive, send)
