"""The verifying proxy as the installer's only HTTP proxy: requests for this proxy itself are
served, requests for any other host are refused.

What the core metadata cannot show, the installer learns only while it runs: an sdist's build
requirements (``[build-system] requires`` in its pyproject.toml, and what its backend's
``get_requires_for_build_wheel`` returns), and the dependencies a build declares when the
installer did not take them from the PEP 658 file. Any of them may be
``payload @ http://host/payload.whl``. ``tufpi install`` therefore runs pip with ``--proxy``
(which pip forwards to its build-isolation subprocess) and the installer with ``HTTP_PROXY``,
``HTTPS_PROXY`` and ``ALL_PROXY`` set to this proxy and ``NO_PROXY`` removed, so that every
request it makes arrives here: for this proxy's own origin in absolute form
(``GET http://127.0.0.1:PORT/simple/x/``), answered as usual; for any other origin in absolute
form, or as ``CONNECT host:443`` for HTTPS, refused with a 403 that names the URL.

An ASGI middleware, pure of I/O beyond its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import SplitResult, unquote, urlsplit

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


_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def _is_this_origin(target: SplitResult, scope: Scope) -> bool:
    """Whether an absolute-form target names this proxy: plain HTTP, no userinfo, the
    address and port the request came in on (``localhost`` for a loopback address)."""
    server = scope.get("server")
    if not server or target.scheme != "http" or "@" in target.netloc:
        return False
    host, port = str(server[0]).lower(), server[1]
    try:
        target_port = target.port or 80
    except ValueError:  # not a number
        return False
    named = target.hostname or ""
    return target_port == port and (named == host or (named == "localhost" and host in _LOOPBACK))


def _refusal(what: str) -> Refusal:
    return Refusal(
        f"the installer asked for {what!r}, another host than this verifying proxy: only "
        "verified targets are served (a direct URL dependency or build requirement points "
        "elsewhere): refused"
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
        if not _is_this_origin(target, scope):
            await self.refuse(_refusal(raw))(scope, receive, send)
            return
        # The target's path is this proxy's: route it as the origin-form request it means.
        path = target.path or "/"
        routed = dict(scope, raw_path=path.encode("latin-1"), path=unquote(path))
        await self.app(routed, receive, send)
