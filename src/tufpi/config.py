"""Settings, read from ``TUFPI_*`` environment variables and an optional TOML file.

Settings are a frozen value built once (by the CLI) and handed to the app factory;
nothing reads the environment after that.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

MiB = 1024 * 1024


class ConfigError(Exception):
    """A setting is missing or has a value we cannot use."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the index needs to start.

    Attributes:
        data_dir: root of the embedded default: the SQLite database and the files.
        database_url: SQLAlchemy URL; empty means SQLite inside ``data_dir``.
        storage_dir: where distributions live; empty means ``data_dir/files``.
        host, port: where ``serve`` listens.
        public_url: the index's root URL as its clients reach it (for example behind a
            TLS proxy), shown on the home page and at ``serve`` start; empty means the
            request's own host, checked, or ``http://host:port/``.
        max_upload_bytes: largest accepted upload body.
        private: when true, reads need a token as uploads do (or a signed-in web session).
        keys_dir: where ``trust init`` keeps the development key set (never the data dir).
        online_key: securesystemslib URI of the online key; empty means the development key
            ``file2:<keys_dir>/online.pem``.
        log_key: the transparency log's Ed25519 key (a PEM file, unencrypted, held by the
            signer like the online key); empty means the development key
            ``<keys_dir>/log.pem``, generated when missing.
        log_origin: the log's name, the origin line of its checkpoints, fixed in the root at
            ``trust init``; empty means the public URL (or ``host:port``) without its
            scheme, followed by ``/tlog``.
        bins: number of bin-n roles chosen at ``trust init`` (a power of two).
        online_expiry: seconds a bin-n, snapshot or timestamp stays valid (PEP 458: a day).
        offline_expiry: seconds root, targets and bins stay valid (PEP 458: a year).
        resign_margin: re-sign an online role when fewer seconds than this are left.
        sweep_grace: seconds superseded versioned metadata is kept.
        publish_interval: seconds between the signer's looks at the pending queue.
        signer: whether ``serve`` runs the signer in-process (the embedded default).
        signing_workers: processes that sign when a publication re-signs many bins
            (back-signing, the daily re-signing of every bin); 0 means one per CPU.
        header_timeout: seconds a client has to send a request's whole head (from the
            connection, or from the end of the previous response).
        body_timeout: seconds in which a request body must make progress.
        body_min_rate: bytes a second a request body must average over each body_timeout.
        max_connections: open connections at most; 0 means what RLIMIT_NOFILE allows.
        log_repeat_interval: seconds in which one kind of repeated server error is logged once.
        metrics_token: when set, ``/metrics`` needs ``Authorization: Bearer <token>``.
        metrics_max_age: seconds ``/metrics`` may reuse figures the signer has not changed.
        archive_max_members: most entries an uploaded or imported archive may hold.
        archive_max_bytes: most bytes reading an archive may inflate (declared, for a zip;
            the whole gzip stream, for a tar.gz).
        archive_max_ratio: most inflated bytes per archive byte, once past 64 MiB.
        inspect_seconds: most wall time reading one archive may take.
        upload_concurrency: uploads ``serve`` inspects and records at once; past it, 503.
        inspect_processes: worker processes ``serve`` reads archives in.
        upstream: simple-API URLs (PEP 503/691) of the indexes a project not hosted here is
            mirrored from, in the order they are asked; empty means none (``tufpi.upstream``).
        upstream_refresh: seconds a mirrored project's page is served before upstream is
            asked again.
        upstream_allow: normalised names that may be hosted here AND mirrored from upstream;
            any other name hosted here never falls through to upstream (dependency confusion).
        upstream_connect_timeout: seconds to connect to an upstream.
        upstream_page_timeout: seconds reading one upstream page may take, in all.
        upstream_file_timeout: seconds downloading one file from upstream may take, in all
            (a file is at most ``max_upload_bytes``, like an upload).
        upstream_page_max_bytes: most bytes of one upstream page (decoded).
        witnesses: submission URL prefixes of the transparency log's witnesses
            (c2sp.org/tlog-witness: each is sent ``POST <prefix>/add-checkpoint``), asked in
            parallel to cosign every checkpoint; empty means none (``tufpi.transparency``).
        witness_timeout: seconds one witness may take to cosign one checkpoint, in all (its
            one retry after a 409 included); a witness past it is skipped for that
            checkpoint.
        witness_retry: the most seconds a checkpoint some witnesses did not cosign waits
            before it is offered to them again (from 2 s, doubling while they stay down).
    """

    data_dir: Path = Path("tufpi-data")
    database_url: str = ""
    storage_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    max_upload_bytes: int = 100 * MiB
    private: bool = False
    keys_dir: Path = Path("tufpi-keys")
    online_key: str = ""
    log_key: str = ""
    log_origin: str = ""
    bins: int = 16384
    online_expiry: int = 86400
    offline_expiry: int = 365 * 86400
    resign_margin: int = 6 * 3600
    sweep_grace: int = 3600
    publish_interval: float = 0.5
    signer: bool = True
    signing_workers: int = 0
    # The HTTP server's limits and /metrics (http/limits.py, web/metrics.py).
    header_timeout: float = 15.0
    body_timeout: float = 30.0
    body_min_rate: int = 500
    max_connections: int = 0
    log_repeat_interval: float = 60.0
    metrics_token: str = dataclasses.field(default="", repr=False)
    metrics_max_age: float = 5.0
    # Uploads: archive inspection bounds and concurrency (index/archive.py, index/inspector.py).
    archive_max_members: int = 200_000
    archive_max_bytes: int = 1024 * MiB
    archive_max_ratio: int = 100
    inspect_seconds: float = 20.0
    upload_concurrency: int = 16
    inspect_processes: int = 2
    # Pull-through of upstream indexes (tufpi.upstream; docs/upstream.md).
    # Not in the repr: an upstream URL may carry credentials (sent only to its own origin).
    upstream: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    upstream_refresh: int = 600
    upstream_allow: frozenset[str] = frozenset()
    upstream_connect_timeout: float = 10.0
    upstream_page_timeout: float = 30.0
    upstream_file_timeout: float = 600.0
    upstream_page_max_bytes: int = 20 * MiB
    # The transparency log's witnesses (tufpi.transparency.witnesses; docs/transparency.md).
    # Not in the repr: a URL may carry credentials.
    witnesses: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    witness_timeout: float = 10.0
    witness_retry: float = 300.0

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tufpi.sqlite3').resolve()}"

    @property
    def effective_storage_dir(self) -> Path:
        """The directory files are stored under."""
        return self.storage_dir if self.storage_dir is not None else self.data_dir / "files"

    @property
    def online_key_uri(self) -> str:
        """The online key's URI, defaulting to the development key."""
        return self.online_key or f"file2:{(self.keys_dir / 'online.pem').resolve()}"

    @property
    def log_key_path(self) -> Path:
        """The log key's file, defaulting to the development key."""
        return Path(self.log_key) if self.log_key else self.keys_dir / "log.pem"

    @property
    def effective_log_origin(self) -> str:
        """The log's origin, defaulting to the public URL's host and path plus ``/tlog``."""
        if self.log_origin:
            return self.log_origin
        base = self.public_url or f"http://{self.host}:{self.port}/"
        return base.split("://", 1)[-1].rstrip("/") + "/tlog"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite (the embedded default)."""
        return self.effective_database_url.startswith("sqlite")


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_PATHS = ("data_dir", "storage_dir", "keys_dir")
# Inclusive bounds of the integer settings: a port must be one TCP can use, a limit positive.
_INT_RANGES = {
    "port": (1, 65535),
    "max_upload_bytes": (1, 2**63 - 1),
    "bins": (2, 2**32),
    "online_expiry": (60, 10 * 365 * 86400),
    "offline_expiry": (60, 10 * 365 * 86400),
    "resign_margin": (1, 10 * 365 * 86400),
    "sweep_grace": (0, 10 * 365 * 86400),
    "signing_workers": (0, 256),
    "body_min_rate": (0, 2**31),
    "max_connections": (0, 1_000_000),
    "archive_max_members": (1, 2**31),
    "archive_max_bytes": (1, 2**63 - 1),
    "archive_max_ratio": (1, 2**31),
    "upload_concurrency": (1, 4096),
    "inspect_processes": (1, 256),
    "upstream_refresh": (0, 10 * 365 * 86400),
    "upstream_page_max_bytes": (1024, 2**31),
}
# PEP 508's project name.
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _as_int(value: Any) -> int:
    # bool is an int subclass and float truncates silently; TOML gives both, so refuse them.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit():
        return int(text)
    raise ValueError(f"not a whole number: {value!r}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower() if isinstance(value, str) else None
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _as_words(value: Any) -> list[str]:
    """A TOML list of strings, or one string of words separated by white space."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [word for v in value for word in v.split()]
    raise ValueError(f"not a list of strings: {value!r}")


def _as_urls(value: Any, what: str, slash: bool) -> tuple[str, ...]:
    """http(s) URLs without query or fragment (``what`` names them in a refusal), in the
    order given, duplicates dropped; each ending in '/' if ``slash``, else without one."""
    urls: list[str] = []
    for word in _as_words(value):
        parsed = urllib.parse.urlsplit(word)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {word!r}")
        if parsed.query or parsed.fragment:
            raise ValueError(f"{what} URL has no query or fragment: {word!r}")
        url = (word if word.endswith("/") else word + "/") if slash else word.rstrip("/")
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def _as_upstreams(value: Any) -> tuple[str, ...]:
    """Simple-API URLs, each ending in '/', in the order given (duplicates dropped)."""
    return _as_urls(value, "an upstream", slash=True)


def _as_witnesses(value: Any) -> tuple[str, ...]:
    """Witness submission prefixes: http(s) URLs without query or fragment, in the order
    given (duplicates dropped), without a final slash (``/add-checkpoint`` is appended)."""
    return _as_urls(value, "a witness", slash=False)


def _as_names(value: Any) -> frozenset[str]:
    """Project names, normalised (PEP 503)."""
    names = set()
    for word in _as_words(value):
        if not _NAME.match(word):
            raise ValueError(f"not a project name: {word!r}")
        names.add(canonicalize_name(word))
    return frozenset(names)


def _as_path(value: Any) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ValueError(f"not a path: {value!r}")
    return Path(value)


# What public_url may hold: RFC 3986's unreserved characters and its delimiters, less the
# quotes, brackets outside a host, and anything a shell or HTML would read differently.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/\[\]@%+=,-]+")


def _public_url(value: Any) -> str:
    """An http(s) URL with a host and nothing a command line or a page would trip on
    (credentials, a query, a fragment, spaces, quotes); with a final slash. Empty stays
    empty."""
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    text = value.strip()
    if not text:
        return ""
    parts = urllib.parse.urlsplit(text)
    parts.port  # noqa: B018 - raises ValueError for a port out of range
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {value!r}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ValueError(f"no credentials, query or fragment in the public URL: {value!r}")
    if not _URL_CHARACTERS.fullmatch(text):
        raise ValueError(f"characters a URL must escape in the public URL: {value!r}")
    return text if text.endswith("/") else text + "/"


# Settings with a converter of their own (the others are converted by their type).
_CONVERTERS = {
    **dict.fromkeys(_PATHS, _as_path),
    "upstream": _as_upstreams,
    "upstream_allow": _as_names,
    "witnesses": _as_witnesses,
    "public_url": _public_url,
}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if name in _CONVERTERS:
            return _CONVERTERS[name](value)
        if kind == "int":
            number = _as_int(value)
            low, high = _INT_RANGES[name]
            if not low <= number <= high:
                raise ValueError(f"{number} is not between {low} and {high}")
            if name == "bins" and number & (number - 1):
                raise ValueError(f"{number} is not a power of two")
            return number
        if kind == "bool":
            return _as_bool(value)
        if kind == "float":
            seconds = _as_float(value)
            if not 0 < seconds <= 3600:
                raise ValueError(f"{seconds} is not between 0 and 3600")
            return seconds
        if not isinstance(value, str):
            raise ValueError(f"not a string: {value!r}")
    except ValueError as e:
        raise ConfigError(f"setting {name}: {e}") from e
    return value


def load_settings(
    environ: Mapping[str, str],
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from a TOML file, then ``TUFPI_*`` variables, then explicit overrides.

    Later sources win. Unknown keys in the file are an error, so a typo is not silently ignored.

    Raises:
        ConfigError: unreadable file, unknown key or a value of the wrong kind.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            table = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read {config_file}: {e}") from e
        section = table.get("tufpi", table)
        if not isinstance(section, dict):
            raise ConfigError(f"{config_file}: [tufpi] must be a table")
        for key, value in section.items():
            name = key.replace("-", "_")
            if name not in _FIELDS:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[name] = _coerce(name, value)
    for name in _FIELDS:
        env_value = environ.get(f"TUFPI_{name.upper()}")
        if env_value is not None:
            values[name] = _coerce(name, env_value)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return Settings(**values)


def from_environment(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from this process's environment (the CLI's entry point)."""
    return load_settings(os.environ, config_file, overrides)
