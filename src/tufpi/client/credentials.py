"""Index credentials, kept out of every URL, path, log line and error message.

A private index (``TUFPI_PRIVATE=1``) wants ``__token__`` and an API token on every read.
The client takes them from the index URL's userinfo (``https://__token__:TOKEN@host/``, as
pip and twine accept it) or from ``TUFPI_INDEX_TOKEN``, and splits them off once, at the
edge: everything after that (the cache directory's name, every URL fetched, logged or shown
in an error) sees the URL without them, and they travel only in the ``Authorization``
header the fetcher's ``OriginAuth`` builds from them, which nothing logs.

``Redactor`` is the second line: a logging filter and a text scrubber that replaces the
known secrets, and any userinfo in a URL, wherever a library might still print them.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from tufpi.client.fetcher import OriginAuth

TOKEN_ENV = "TUFPI_INDEX_TOKEN"  # noqa: S105 - the variable's name, not a secret
TOKEN_USERNAME = "__token__"  # noqa: S105 - the fixed username of token auth
REDACTED = "***"
# scheme://userinfo@ in any text: what a URL with credentials looks like inside a message.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


class CredentialsError(ValueError):
    """The index URL or the token cannot be used (never says what the secret was)."""


@dataclasses.dataclass(frozen=True)
class IndexAddress:
    """An index URL without credentials, and the credentials apart (hidden from ``repr``)."""

    url: str
    username: str | None = dataclasses.field(default=None, repr=False)
    password: str | None = dataclasses.field(default=None, repr=False)

    @property
    def auth(self) -> OriginAuth | None:
        """What the client sends as ``Authorization: Basic``, to this index's origin only;
        None for a public index."""
        if self.password is None:
            return None
        # Here, not at the top: the fetcher imports httpx and tuf, which `tufpi install`
        # loads only once its installer is starting (``launch``).
        from tufpi.client.fetcher import OriginAuth

        return OriginAuth.basic(self.url, self.username or TOKEN_USERNAME, self.password)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be printed: the password, and the header value."""
        if self.password is None:
            return ()
        basic = f"{self.username or TOKEN_USERNAME}:{self.password}".encode()
        return (self.password, base64.b64encode(basic).decode())


def _root_path(path: str, url: str) -> str:
    """The index's root path, given its root or its simple API's path (``/simple/``, as
    pip's ``--index-url`` takes it), ending with ``/``.

    Raises:
        CredentialsError: the path names a project page (``/simple/NAME/``).
    """
    segments = [s for s in path.split("/") if s]
    if "simple" in segments[:-1] and segments[-2] == "simple":
        raise CredentialsError(
            "the index URL names a project page: give the index's root URL or its /simple/ "
            f"URL: {redact_url(url)}"
        )
    if segments and segments[-1] == "simple":
        segments.pop()
    return "/" + "".join(s + "/" for s in segments)


def parse_index_url(url: str, token: str | None = None) -> IndexAddress:
    """Split credentials off ``url`` (the index's root URL or its ``/simple/`` URL; made
    the root URL, ending with ``/``).

    ``token`` (``TUFPI_INDEX_TOKEN``) is the password for ``__token__``; it may not be
    combined with credentials in the URL.

    Raises:
        CredentialsError: both a token and userinfo, a URL that is not http(s), that has a
            query or fragment, or that names a project page.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialsError(f"the index URL must be http(s)://HOST/...: {redact_url(url)}")
    if parts.query or parts.fragment:
        raise CredentialsError(
            f"the index URL has a query or fragment, which an index's URL has not: "
            f"{redact_url(url)}"
        )
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if token and (username or password):
        raise CredentialsError("give the token in TUFPI_INDEX_TOKEN or in the index URL, not both")
    if token:
        username, password = TOKEN_USERNAME, token
    elif username is not None and password is None:
        # https://TOKEN@host/: a bare secret in the user part, as some tools write it.
        username, password = TOKEN_USERNAME, username
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    clean = urlunsplit((parts.scheme, netloc, _root_path(parts.path, url), "", ""))
    return IndexAddress(clean, username, password or None)


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)


class Redactor(logging.Filter):
    """Scrubs known secrets, and any URL's userinfo, from text and from log records."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with no secret left in it."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return redact_url(text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the record's message (with its arguments) once, scrubbed; keep the record."""
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def install(self, *loggers: logging.Logger) -> None:
        """Filter every handler of ``loggers`` (default: the root logger's)."""
        for logger in loggers or (logging.getLogger(),):
            for handler in logger.handlers:
                handler.addFilter(self)


def forget_credentialed_cache(cache_root: Path, raw_index_url: str) -> None:
    """Remove the cache directory that earlier versions made for an index URL with
    credentials: its name held the token (the cache is now named for the URL without)."""
    if "@" not in raw_index_url:
        return
    legacy = cache_root / quote(raw_index_url.strip().rstrip("/"), safe="")
    if legacy.is_dir() and legacy.parent == cache_root:
        shutil.rmtree(legacy, ignore_errors=True)
