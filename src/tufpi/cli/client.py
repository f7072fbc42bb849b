"""The verifying client: ``tufpi proxy``, ``tufpi install`` and ``tufpi pin``."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tufpi.client import installers, launch
from tufpi.client.credentials import (
    TOKEN_ENV,
    CredentialsError,
    IndexAddress,
    Redactor,
    forget_credentialed_cache,
    parse_index_url,
)
from tufpi.client.exposure import listen_warning
from tufpi.client.pins import Pin, PinError, choose, pin_line, read_pins, requirement_files
from tufpi.client.refusals import Refusal
from tufpi.client.settings import SettingsError, find_project_settings
from tufpi.client.text import Sanitiser, printable

# The verifying machinery (tuf, httpx, uvicorn: a quarter of a second to import) is imported
# in the functions that use it: `tufpi install` starts its installer first (client/launch.py).
if TYPE_CHECKING:
    from tufpi.client.fetcher import HttpClient
    from tufpi.client.running import ProxyOptions
    from tufpi.client.verified_index import VerifiedIndex


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tufpi"


def _trust_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--index",
            "index_url",
            help="The tufpi index: its root URL or its /simple/ URL (default: a requirements "
            "file's pin, else [tool.tufpi] index in the nearest pyproject.toml). A private "
            f"index's token: in {TOKEN_ENV} (or https://__token__:TOKEN@host/, which other "
            "local users can read in the process list).",
        ),
        click.option(
            "--root",
            "root_file",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="A trusted root metadata file (for example the index's 1.root.json).",
        ),
        click.option(
            "--root-sha256",
            help="Pin the index's first root by its sha256 (see `tufpi pin URL`; default: a "
            "requirements file's pin, else [tool.tufpi] root-sha256 in the nearest "
            "pyproject.toml).",
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
            "--recheck-interval",
            type=float,
            default=1.0,
            show_default=True,
            help="Fewest seconds between two looks for a new publication on a page request "
            "or a miss (a new upload shows within about this; a flood of misses costs the "
            "index one small read per interval).",
        ),
        click.option(
            "--publication-wait",
            type=float,
            default=10.0,
            show_default=True,
            help="Most seconds a page request waits for a project the index lists but no "
            "signed snapshot does yet (an upload whose publication is pending).",
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


def _normalise(url: str) -> str:
    """The index's root URL of ``url``, without credentials (for comparing pins)."""
    return parse_index_url(url).url


@dataclasses.dataclass(frozen=True)
class Trust:
    """Which index to verify against, and with which root."""

    address: IndexAddress
    root_file: Path | None
    root_sha256: str | None


@dataclasses.dataclass(frozen=True)
class TrustArgs:
    """The options every client command shares (see ``_trust_options``)."""

    index_url: str | None
    root_file: Path | None
    root_sha256: str | None
    cache_dir: Path
    refresh_interval: float
    recheck_interval: float
    publication_wait: float
    download_timeout: float
    allow_unpublished: bool

    def resolve(self, pins: Sequence[Pin] = ()) -> Trust:
        """The index and root: from the options, else the requirements' ``pins``, else
        ``[tool.tufpi]`` of the nearest pyproject.toml (``pins.choose``); says on stderr
        where each came from when not from an option. The credentials are split off the URL
        (or taken from ``TUFPI_INDEX_TOKEN``), never from a shared file."""
        if self.root_file is not None and self.root_sha256 is not None:
            raise click.UsageError("give --root or --root-sha256, not both")
        given_root = self.root_sha256
        if self.root_file is not None:
            given_root = hashlib.sha256(self.root_file.read_bytes()).hexdigest()
        try:
            project = find_project_settings(Path.cwd())
            choice = choose(self.index_url, given_root, pins, project, _normalise)
            if choice.index is None:
                raise click.UsageError(
                    "give --index (or a pin in a requirements file: tufpi pin URL, or "
                    "[tool.tufpi] index in pyproject.toml)"
                )
            address = parse_index_url(choice.index, os.environ.get(TOKEN_ENV) or None)
        except PinError as e:
            raise click.ClickException(printable(str(e))) from e
        except (SettingsError, CredentialsError) as e:
            raise click.UsageError(str(e)) from e
        if choice.index_from not in (None, "--index"):
            click.echo(f"tufpi: index {address.url} from {choice.index_from}", err=True)
        if choice.root_from not in (None, "--root/--root-sha256"):
            click.echo(f"tufpi: root-sha256 {choice.root_sha256} from {choice.root_from}", err=True)
        forget_credentialed_cache(self.cache_dir, choice.index)
        root_sha256 = None if self.root_file is not None else choice.root_sha256
        return Trust(address, self.root_file, root_sha256)

    def options(self) -> ProxyOptions:
        """How the proxy answers."""
        from tufpi.client.running import ProxyOptions

        return ProxyOptions(self.allow_unpublished, self.publication_wait)

    def open(self, trust: Trust, client: HttpClient) -> VerifiedIndex:
        """The verified index ``trust`` names; a clean CLI error when it is refused.
        ``client`` carries the credentials (``trust.address.auth``)."""
        from tufpi.client import running
        from tufpi.client.verified_index import ClientBounds

        bounds = ClientBounds(download_timeout=self.download_timeout)
        try:
            return running.open_index(
                trust.address,
                self.cache_dir,
                trust.root_file,
                trust.root_sha256,
                self.refresh_interval,
                client,
                bounds,
                self.recheck_interval,
            )
        except Refusal as e:
            scrubbed = Redactor(trust.address.secrets).scrub(e.message)
            raise click.ClickException(f"refused: {printable(scrubbed)}") from None


def _log_safely(address: IndexAddress) -> None:
    """Every log record scrubbed of the index's secrets (``Redactor``) and of control
    characters from the network (``Sanitiser``), on the root logger's handlers."""
    Redactor(address.secrets).install()
    Sanitiser().install()


def _connect(address: IndexAddress) -> HttpClient:
    """The one HTTP client of a command: the credentials ride in it, not in any URL."""
    from tufpi.client.fetcher import http_client

    return http_client(address.auth)


def _listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"  # [::1]:3141 -> ::1
    try:
        return host, int(port)
    except ValueError:
        raise click.UsageError(f"--listen {listen!r}: give HOST:PORT") from None


@click.command()
@_trust_options
@click.option(
    "--listen",
    default=f"{launch.STABLE_HOST}:{launch.STABLE_PORT}",
    show_default=True,
    help="HOST:PORT. Keep it stable: installers record the proxy's URL (lock files, caches).",
)
def proxy(listen: str, **trust_options: Any) -> None:
    """Serve a local simple index that only answers with verified pages and files.

    Point any installer at the URL it prints, which names the index:
    pip install --index-url http://127.0.0.1:3141/pypi.example.org/simple/ NAME
    """
    from tufpi.client import running

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    args = TrustArgs(**trust_options)
    trust = args.resolve()
    _log_safely(trust.address)
    host, port = _listen(listen)
    if (warning := listen_warning(host, trust.address.auth is not None)) is not None:
        logging.getLogger("tufpi.proxy").warning("%s", warning)
    with _connect(trust.address) as client:
        index = args.open(trust, client)

        def announce(url: str) -> None:
            click.echo(f"tufpi proxy: verified {index.index_url}; serving {url}")

        try:
            running.serve(index, host, port, args.options(), announce)
        except Refusal as e:
            raise click.ClickException(e.message) from None


def _installer_args(
    python: str | None, installer_args: Sequence[str]
) -> tuple[str | None, list[str]]:
    """The ``--python`` asked for and the installer's arguments (a ``--python`` among them
    lifted out: pip takes it only before its subcommand); a usage error for what is refused."""
    try:
        lifted, rest = installers.split_python(installer_args)
        if python is not None and lifted is not None and python != lifted:
            raise installers.InstallerError(f"--python given twice: {python!r} and {lifted!r}")
        if (why := installers.refused_argument(rest)) is not None:
            raise installers.InstallerError(why)
    except installers.InstallerError as e:
        raise click.UsageError(printable(str(e))) from None
    return python or lifted, rest


def _target(python: str | None) -> installers.Target:
    try:
        return installers.find_target(python)
    except installers.InstallerError as e:
        raise click.UsageError(printable(str(e))) from None


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_trust_options
@click.option(
    "--installer",
    type=click.Choice(installers.INSTALLERS),
    help="Default: uv when it is on PATH, else pip.",
)
@click.option(
    "--python",
    help="Install for this interpreter: a path, a virtual environment's directory or a "
    "command on PATH (default: the active virtual environment).",
)
@click.argument("installer_args", nargs=-1, type=click.UNPROCESSED)
def install(
    installer: str | None,
    python: str | None,
    installer_args: tuple[str, ...],
    **trust_options: Any,
) -> None:
    """Install with uv or pip through a verifying proxy; exits with the installer's code.

    Example: tufpi install --index URL --root-sha256 HEX -- -r requirements.txt

    A requirements file may carry the pin (see `tufpi pin`).
    """
    logging.basicConfig(level=logging.WARNING, format="tufpi: %(message)s")
    python, args_out = _installer_args(python, installer_args)
    args = TrustArgs(**trust_options)
    try:
        pins = read_pins(requirement_files(args_out), _normalise)
    except PinError as e:
        raise click.ClickException(printable(str(e))) from None
    trust = args.resolve(pins)
    target = _target(python)
    _log_safely(trust.address)
    chosen = installers.choose_installer(installer)
    click.echo(
        f"tufpi: installing with {chosen} for {target.python} ({target.why}), every file "
        f"verified against {trust.address.url}",
        err=True,
    )
    launched = launch.start(
        chosen, trust.address.url, args_out, target.python, args.download_timeout
    )
    with launch.stopped_on_failure(launched):
        code = _serve_installer(args, trust, launched)
    _exit_now(code)


def _exit_now(code: int) -> NoReturn:
    """Exit with ``code`` without the interpreter's teardown. The proxy's daemon thread is
    still running: a thread writing into a finalizing interpreter is a known way to crash at
    exit, and freeing every module takes 50 ms of each install. Nothing is pending: the
    installer has exited, the HTTP client is closed, each cache file was renamed into place,
    and the output streams are flushed here."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve_installer(args: TrustArgs, trust: Trust, launched: launch.Launched) -> int:
    """Verify the index and serve the started installer through the proxy; its exit code."""
    from tufpi.client import running

    with _connect(trust.address) as client:
        index = args.open(trust, client)
        try:
            return running.serve_installer(index, launched, args.options())
        except Refusal as e:
            raise click.ClickException(e.message) from None


@click.command()
@click.argument("url")
@click.option(
    "--download-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Most seconds the index's first root may take to download.",
)
def pin(url: str, download_timeout: float) -> None:
    """Print the pin of the index at URL: one line for a requirements file.

    \b
    echo "$(tufpi pin https://pypi.example.org/)" >> requirements.txt
    tufpi install -r requirements.txt

    The fingerprint is of the index's first root as it serves it now (trust on first use):
    compare it with the one the index's operators publish.
    """
    try:
        address = parse_index_url(url, os.environ.get(TOKEN_ENV) or None)
    except CredentialsError as e:
        raise click.UsageError(str(e)) from e
    from tufpi.client import running
    from tufpi.client.verified_index import ClientBounds

    bounds = ClientBounds(download_timeout=download_timeout)
    with _connect(address) as client:
        try:
            fingerprint = running.first_root_fingerprint(address, client, bounds)
        except Refusal as e:
            scrubbed = Redactor(address.secrets).scrub(e.message)
            raise click.ClickException(f"refused: {printable(scrubbed)}") from None
    click.echo(pin_line(address.url, fingerprint))
    click.echo(
        f"tufpi: trust on first use: this is the sha256 of the first root {address.url} "
        "serves now, fetched over the network just now. Compare it with the fingerprint the "
        "index's operators publish (tufpi serve prints it at every start) before you rely "
        "on it.",
        err=True,
    )
