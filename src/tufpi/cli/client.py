"""The verifying client: ``tufpi proxy`` and ``tufpi install``."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from tufpi.client import running
from tufpi.client.credentials import (
    TOKEN_ENV,
    CredentialsError,
    IndexAddress,
    Redactor,
    parse_index_url,
)
from tufpi.client.exposure import listen_warning
from tufpi.client.fetcher import HttpClient, http_client
from tufpi.client.refusals import Refusal
from tufpi.client.running import forget_credentialed_cache
from tufpi.client.text import Sanitiser, printable
from tufpi.client.verified_index import ClientBounds, VerifiedIndex


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tufpi"


def _trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--index",
            "index_url",
            help="The tufpi index root URL (default: [tool.tufpi] index in ./pyproject.toml). "
            f"A private index's token: in {TOKEN_ENV} (or https://__token__:TOKEN@host/, "
            "which other local users can read in the process list).",
        ),
        click.option(
            "--root",
            "root_file",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="A trusted root metadata file (for example the index's 1.root.json).",
        ),
        click.option(
            "--root-sha256",
            help="Pin the index's first root by its sha256 (see `tufpi trust status`; "
            "default: [tool.tufpi] root-sha256 in ./pyproject.toml).",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=_default_cache,
            show_default="~/.cache/tufpi",
            help="Verified metadata and files.",
        ),
        click.option(
            "--refresh-interval",
            type=float,
            default=30.0,
            show_default=True,
            help="Seconds between refreshes of the signed metadata.",
        ),
        click.option(
            "--download-timeout",
            type=float,
            default=60.0,
            show_default=True,
            help="Most seconds one download (metadata, page or file) may take, from "
            "connecting to the last byte (slow-retrieval defence).",
        ),
        click.option(
            "--allow-unpublished",
            is_flag=True,
            help="Add to the signed pages, UNVERIFIED and with a warning naming each, files "
            "of releases not yet in a signed snapshot that the index serves itself, checked "
            "against the sha256 its page states; a signed file is never replaced.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def project_trust(directory: Path) -> dict[str, str]:
    """``[tool.tufpi]`` of ``directory/pyproject.toml``: a project pins its index there.

    [tool.tufpi]
    index = "https://pypi.example.org/"
    root-sha256 = "9c1d..."
    """
    path = directory / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("tool", {}).get("tufpi", {})
    except tomllib.TOMLDecodeError as e:
        raise click.ClickException(f"{path}: {e}") from e
    return {k: str(v) for k, v in table.items() if k in ("index", "root-sha256")}


@dataclasses.dataclass(frozen=True)
class TrustArgs:
    """The options every client command shares (see ``_trust_options``)."""

    index_url: str | None
    root_file: Path | None
    root_sha256: str | None
    cache_dir: Path
    refresh_interval: float
    download_timeout: float
    allow_unpublished: bool

    def address(self) -> IndexAddress:
        """The index URL without credentials, and the credentials apart: from the URL's
        userinfo or ``TUFPI_INDEX_TOKEN``. Never from pyproject.toml, which is shared."""
        pinned = project_trust(Path.cwd())
        index_url = self.index_url or pinned.get("index")
        if index_url is None:
            raise click.UsageError("give --index (or [tool.tufpi] index in pyproject.toml)")
        if self.index_url is None and urlsplit(index_url).username is not None:
            raise click.UsageError(
                "pyproject.toml's [tool.tufpi] index holds credentials: give the token in "
                f"{TOKEN_ENV} instead"
            )
        try:
            address = parse_index_url(index_url, os.environ.get(TOKEN_ENV) or None)
        except CredentialsError as e:
            raise click.UsageError(str(e)) from e
        forget_credentialed_cache(self.cache_dir, index_url)
        return address

    def open(self, address: IndexAddress, client: HttpClient) -> VerifiedIndex:
        """The verified index at ``address``; a clean CLI error when it is refused.
        ``client`` carries the credentials (``address.auth``)."""
        if self.root_file is not None and self.root_sha256 is not None:
            raise click.UsageError("give --root or --root-sha256, not both")
        root_sha256 = self.root_sha256
        if self.root_file is None and root_sha256 is None:
            root_sha256 = project_trust(Path.cwd()).get("root-sha256")
        bounds = ClientBounds(download_timeout=self.download_timeout)
        try:
            return running.open_index(
                address,
                self.cache_dir,
                self.root_file,
                root_sha256,
                self.refresh_interval,
                client,
                bounds,
            )
        except Refusal as e:
            scrubbed = Redactor(address.secrets).scrub(e.message)
            raise click.ClickException(f"refused: {printable(scrubbed)}") from None


def _log_safely(address: IndexAddress) -> None:
    """Every log record scrubbed of the index's secrets (``Redactor``) and of control
    characters from the network (``Sanitiser``), on the root logger's handlers."""
    Redactor(address.secrets).install()
    Sanitiser().install()


def _connect(address: IndexAddress) -> HttpClient:
    """The one HTTP client of a command: the credentials ride in it, not in any URL."""
    return http_client(address.auth)


@click.command()
@_trust_options
@click.option("--listen", default="127.0.0.1:3141", show_default=True, help="HOST:PORT.")
def proxy(listen: str, **trust: Any) -> None:
    """Serve a local simple index that only answers with verified pages and files.

    Point any installer at it: pip install --index-url http://127.0.0.1:3141/simple/ NAME
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    args = TrustArgs(**trust)
    address = args.address()
    _log_safely(address)
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"  # [::1]:3141 -> ::1
    if (warning := listen_warning(host, address.auth is not None)) is not None:
        logging.getLogger("tufpi.proxy").warning("%s", warning)
    with _connect(address) as client:
        index = args.open(address, client)
        click.echo(f"tufpi proxy: verified {index.index_url}; serving http://{listen}/simple/")
        running.serve(index, host, int(port), args.allow_unpublished)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_trust_options
@click.option("--installer", type=click.Choice(["pip", "uv"]), default="pip", show_default=True)
@click.argument("installer_args", nargs=-1, type=click.UNPROCESSED)
def install(installer: str, installer_args: tuple[str, ...], **trust: Any) -> None:
    """Install with pip or uv through a verifying proxy; exits with the installer's code.

    Example: tufpi install --index URL --root-sha256 HEX -- requests==2.32.3
    """
    logging.basicConfig(level=logging.WARNING, format="tufpi: %(message)s")
    args = TrustArgs(**trust)
    address = args.address()
    _log_safely(address)
    with _connect(address) as client:
        index = args.open(address, client)
        code = running.install(index, installer, installer_args, args.allow_unpublished)
    sys.exit(code)
