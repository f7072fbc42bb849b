"""The remote CLI's HTTP side: ``tufpi --index URL ...`` calls the index's management API
(``/api/v1/``, ``tufpi.web.api``) with an API token, instead of opening its database.

Every call is bounded: one total deadline (``tufpi.http.deadline_at``, which also bounds a
server that trickles its answer) and a cap on the answer's bytes. A refusal prints the
server's own sentence and exits non-zero. The token goes only into the Authorization header
and is never printed; it is sent over https, or plain http to this machine only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import time
import urllib.parse
from typing import Any

import click
import httpx

from tufpi.http import bound_transports, deadline_at

TIMEOUT = 30.0  # seconds for one call, all of it
MAX_ANSWER = 4 * 1024 * 1024  # bytes of one answer read at most
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def segment(value: str) -> str:
    """``value`` as one path segment (``/`` and everything else quoted)."""
    return urllib.parse.quote(value, safe="")


def check_url(url: str) -> str:
    """The index's base URL, ending in ``/``; https, or http to a loopback address only
    (a token sent in plain text over a network is a token given away).

    Raises:
        click.UsageError: another scheme, or plain http to another host.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.UsageError(f"--index must be an http(s) URL, not {url!r}.")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise click.UsageError(
            f"--index {url} is plain http to another machine: the API token would cross the "
            "network unencrypted. Use https (plain http is accepted only for this machine)."
        )
    return url if url.endswith("/") else url + "/"


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class Remote:
    """An index's management API, called with one API token."""

    url: str  # ends with "/"
    token: str = dataclasses.field(repr=False)
    timeout: float = TIMEOUT

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of ``METHOD api/v1/PATH`` (``body`` sent as JSON).

        Raises:
            click.ClickException: the server refused (its sentence), could not be reached
                in time, or did not answer JSON.
        """
        url = f"{self.url}api/v1/{path}"
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            bound_transports(client)
            try:
                with deadline_at(time.monotonic() + self.timeout):
                    status, raw = _exchange(client, method, url, headers, body)
            except httpx.HTTPError as e:
                raise click.ClickException(
                    f"{method} {url}: {_plain(str(e)) or type(e).__name__}"
                ) from e
        if not 200 <= status < 300:
            said = _plain(raw.decode("utf-8", "replace"))
            raise click.ClickException(f"the index refused ({status}): {said or 'no reason given'}")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise click.ClickException(f"{method} {url}: the answer is not JSON") from e


def _exchange(
    client: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any] | None,
) -> tuple[int, bytes]:
    """Status and body (at most ``MAX_ANSWER`` bytes) of one request."""
    content = None if body is None else json.dumps(body).encode()
    if content is not None:
        headers = {**headers, "content-type": "application/json"}
    with client.stream(method, url, headers=headers, content=content) as response:
        raw = bytearray()
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) > MAX_ANSWER:
                raise click.ClickException(f"{url}: the answer passed {MAX_ANSWER} bytes")
        return response.status_code, bytes(raw)


def _plain(text: str) -> str:
    """One line of printable text, at most 1000 characters (what a server says is shown,
    never its control characters)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line[:1000]
