"""How clients use this index: its root URL and the command lines to install from it,
plainly or verified against its root fingerprint. Pure: the home page (``web/home.py``)
and ``tufpi serve``'s start-up lines render them.

The URL comes from the ``public_url`` setting when there is one. Otherwise from the
request's ``Host`` header, which any client sets to anything: it is taken only when it is a
plain host name or address with an optional port, and the listening address is used
instead. Every command line is shell-quoted here; the page escapes it again for HTML.
"""

from __future__ import annotations

import dataclasses
import re
import shlex

from tufpi.config import Settings

# A Host header taken as it is: a DNS name (RFC 1123 labels), an IPv4 address or a bracketed
# IPv6 address, with an optional port. Anything else (spaces, quotes, markup, a path, user
# information) is not a host: the listening address is shown instead.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
_MAX_HOST = 255
# Addresses that mean "every interface": a client cannot connect to them.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
# Where `tufpi proxy` listens by default (its --listen).
PROXY_SIMPLE = "http://127.0.0.1:3141/simple/"
# The placeholder for the project to install.
NAME = "NAME"


def listening_url(settings: Settings) -> str:
    """``public_url``, or the address ``tufpi serve`` listens on (a wildcard address as the
    loopback one), as an index root URL ending in ``/``."""
    if settings.public_url:
        return settings.public_url
    host = _WILDCARDS.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/"


def request_url(settings: Settings, scheme: str, host_header: str | None) -> str:
    """The index root URL to show a client: ``public_url``, else the request's own scheme
    and ``Host`` when that is a plain host[:port], else ``listening_url``."""
    if settings.public_url:
        return settings.public_url
    if (
        host_header is not None
        and len(host_header) <= _MAX_HOST
        and _HOST.fullmatch(host_header)
        and scheme in ("http", "https")
    ):
        return f"{scheme}://{host_header}/"
    return listening_url(settings)


@dataclasses.dataclass(frozen=True)
class Command:
    """One command line to show: a stable key (the page's element id), what it does, the
    line."""

    key: str
    what: str
    line: str


def _q(url: str) -> str:
    return shlex.quote(url)


def plain_commands(url: str) -> list[Command]:
    """Installing from the index as from any index (TLS at most: nothing verified)."""
    simple = _q(url + "simple/")
    return [
        Command("pip", "pip", f"pip install --index-url {simple} {NAME}"),
        Command("uv", "uv", f"uv pip install --index-url {simple} {NAME}"),
        Command("uv-add", "uv project", f"uv add --default-index {simple} {NAME}"),
        Command(
            "poetry",
            "poetry",
            f"poetry source add --priority=primary tufpi {simple} && poetry add {NAME}",
        ),
    ]


def upload_commands(url: str) -> list[Command]:
    """Uploading with an API token (``tufpi token create``)."""
    legacy = _q(url + "legacy/")
    return [
        Command(
            "twine",
            "twine",
            f'twine upload --repository-url {legacy} -u __token__ -p "$TOKEN" dist/*',
        ),
        Command(
            "uv-publish",
            "uv",
            f'uv publish --publish-url {legacy} --username __token__ --password "$TOKEN" dist/*',
        ),
    ]


def verified_commands(url: str, fingerprint: str) -> list[Command]:
    """Installing through tufpi's verifying client, pinned to the index's first root."""
    pin = f"--index {_q(url)} --root-sha256 {fingerprint}"
    return [
        Command("tufpi-install", "install, verified", f"tufpi install {pin} -- {NAME}"),
        Command("tufpi-proxy", "proxy, verified", f"tufpi proxy {pin}"),
        Command(
            "proxy-pip", "then, through the proxy", f"pip install --index-url {PROXY_SIMPLE} {NAME}"
        ),
    ]


def pyproject_table(url: str, fingerprint: str) -> str:
    """The ``[tool.tufpi]`` table that pins the index for a project."""
    return f'[tool.tufpi]\nindex = "{url}"\nroot-sha256 = "{fingerprint}"\n'


def start_lines(url: str, fingerprint: str) -> list[str]:
    """What ``tufpi serve`` prints at every start: the fingerprint and the two commands a
    user needs."""
    commands = verified_commands(url, fingerprint)
    return [
        f"tufpi: root fingerprint (sha256 of {url}tuf/1.root.json): {fingerprint}",
        f"tufpi: verified install: {commands[0].line}",
        f"tufpi: verified proxy:   {commands[1].line}   (then: {commands[2].line})",
    ]
