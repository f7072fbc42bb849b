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

import click
import httpx

from tufpi.client import running
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import VerifiedIndex


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tufpi"


def _trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--index",
            "index_url",
            help="The tufpi index root URL (default: [tool.tufpi] index in ./pyproject.toml).",
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
            help="Most seconds one metadata file or target may take (slow-retrieval defence).",
        ),
        click.option(
            "--allow-unpublished",
            is_flag=True,
            help="Pass through, UNVERIFIED and with a warning, files uploaded but not yet "
            "in a signed snapshot.",
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

    def open(self, client: httpx.Client) -> VerifiedIndex:
        """The verified index these options name; a clean CLI error when it is refused."""
        if self.root_file is not None and self.root_sha256 is not None:
            raise click.UsageError("give --root or --root-sha256, not both")
        pinned = project_trust(Path.cwd())
        index_url = self.index_url or pinned.get("index")
        if index_url is None:
            raise click.UsageError("give --index (or [tool.tufpi] index in pyproject.toml)")
        root_sha256 = self.root_sha256
        if self.root_file is None and root_sha256 is None:
            root_sha256 = pinned.get("root-sha256")
        try:
            return running.open_index(
                index_url,
                self.cache_dir,
                self.root_file,
                root_sha256,
                self.refresh_interval,
                client,
                self.download_timeout,
            )
        except Refusal as e:
            raise click.ClickException(f"refused: {e.message}") from e


@click.command()
@_trust_options
@click.option("--listen", default="127.0.0.1:3141", show_default=True, help="HOST:PORT.")
def proxy(listen: str, **trust: Any) -> None:
    """Serve a local simple index that only answers with verified pages and files.

    Point any installer at it: pip install --index-url http://127.0.0.1:3141/simple/ NAME
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    args = TrustArgs(**trust)
    host, _, port = listen.rpartition(":")
    with httpx.Client(follow_redirects=False) as client:
        index = args.open(client)
        click.echo(f"tufpi proxy: verified {index.index_url}; serving http://{listen}/simple/")
        running.serve(index, client, host or "127.0.0.1", int(port), args.allow_unpublished)


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
    with httpx.Client(follow_redirects=False) as client:
        index = args.open(client)
        code = running.install(index, client, installer, installer_args, args.allow_unpublished)
    sys.exit(code)
