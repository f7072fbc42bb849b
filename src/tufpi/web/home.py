"""``/``: what this index is and how to use it, as pypiserver's welcome page does, with how
to verify what it serves: the root fingerprint and the ``tufpi install`` and ``tufpi proxy``
lines that pin it.

Server-rendered HTML with no script; every value is escaped (the URL may come from the
request's Host header: ``usage.request_url`` takes only a plain host, and it is escaped
here all the same). The fingerprint is read from storage once: it is of the index's first
root, which never changes.
"""

from __future__ import annotations

import threading
from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tufpi.storage import Storage
from tufpi.trust.status import root_fingerprint
from tufpi.web import usage
from tufpi.web.context import context

_HEAD = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tufpi</title>
<style>body{font-family:sans-serif;max-width:52em;margin:1em auto;padding:0 1em;line-height:1.4}
pre{background:#f4f4f4;padding:.5em;overflow-x:auto}code{background:#f4f4f4}</style>
</head><body>
<h1>tufpi</h1>
<p>A Python package index that signs its repository metadata (PEP 458): storage, CDNs,
mirrors and the network cannot alter or hide the files it accepted without clients noticing.
It does not protect against a stolen maintainer account or a compromised index.</p>
"""
_TAIL = """<h2>Links</h2>
<ul><li><a href="simple/">simple/</a>: the simple API (PEP 503 HTML, PEP 691 JSON)</li>
<li><code>legacy/</code>: the upload API</li>
<li><a href="tuf/1.root.json">tuf/1.root.json</a>: the first root, whose sha256 is the
fingerprint above; <a href="tuf/root.json">tuf/root.json</a>: the newest root;
<a href="tuf/timestamp.json">tuf/timestamp.json</a>: where a client's refresh starts</li></ul>
</body></html>
"""


class Fingerprint:
    """The root fingerprint, read once it exists (an index not yet initialised has none)."""

    def __init__(self) -> None:
        self._value: str | None = None
        self._lock = threading.Lock()

    def known(self) -> str | None:
        """The fingerprint if already read (no I/O)."""
        return self._value

    def get(self, storage: Storage) -> str | None:
        """The fingerprint, or None while the signed metadata is not initialised."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    try:
                        self._value = root_fingerprint(storage)
                    except FileNotFoundError:
                        return None
        return self._value


def _commands(commands: list[usage.Command]) -> str:
    return "".join(
        f'<p>{escape(c.what)}:</p>\n<pre id="cmd-{escape(c.key)}">{escape(c.line)}</pre>\n'
        for c in commands
    )


def _verify_section(url: str, fingerprint: str | None) -> str:
    if fingerprint is None:
        return "<h2>Verify</h2>\n<p>The signed metadata is not initialised yet.</p>\n"
    return (
        "<h2>Verify</h2>\n"
        "<p>Root fingerprint (the sha256 of <code>tuf/1.root.json</code>):</p>\n"
        f'<pre id="root-sha256">{escape(fingerprint)}</pre>\n'
        "<p>Check it against a copy you got another way (from the index's operator, your "
        "project's repository) before you pin it. Then tufpi's client verifies every page "
        "and file against the signed metadata before pip or uv sees it:</p>\n"
        + _commands(usage.verified_commands(url, fingerprint))
        + "<p>Or pin the index in your project's <code>pyproject.toml</code>, and run "
        "<code>tufpi install</code> or <code>tufpi proxy</code> with no options:</p>\n"
        f"<pre>{escape(usage.pyproject_table(url, fingerprint))}</pre>\n"
    )


def render(url: str, fingerprint: str | None, private: bool) -> str:
    """The home page for an index at ``url`` (a root URL ending in ``/``)."""
    token = (
        "<p>This index is private: reads need an API token, in <code>TUFPI_INDEX_TOKEN</code> "
        "for tufpi's client, as <code>https://__token__:TOKEN@host/simple/</code> for "
        "pip.</p>\n"
        if private
        else ""
    )
    return (
        _HEAD
        + f"<p>This index: <code>{escape(url)}</code></p>\n"
        + token
        + _verify_section(url, fingerprint)
        + "<h2>Install, unverified</h2>\n<p>As from any index: what arrives is checked only "
        "by TLS, if any. Use <code>--index-url</code>, not <code>--extra-index-url</code>, "
        "which lets another index answer for the same names.</p>\n"
        + _commands(usage.plain_commands(url))
        + "<h2>Upload</h2>\n<p>With an API token (<code>tufpi token create</code>) as the "
        "password:</p>\n" + _commands(usage.upload_commands(url)) + _TAIL
    )


async def home(request: Request) -> Response:
    """The home page, for the URL this request reached (see ``usage.request_url``)."""
    ctx = context(request)
    cache: Fingerprint = request.app.state.fingerprint
    fingerprint = cache.known() or await run_in_threadpool(cache.get, ctx.index.storage)
    url = usage.request_url(ctx.settings, request.scope["scheme"], request.headers.get("host"))
    # The page depends on the Host header: a shared cache must not hand one host's page
    # to another's clients.
    headers = {"cache-control": "no-cache", "vary": "Host"}
    return HTMLResponse(render(url, fingerprint, ctx.settings.private), headers=headers)
