"""Serving, signing and the signed metadata: ``serve``, ``signer`` and ``trust ...``."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click
from securesystemslib.signer import Signer

from tufpi.cli._common import (
    SIGNER_PAUSE_ENV,
    crash_at,
    migrate,
    pause_at,
    sweep_staged,
    upload_checkpoint,
)
from tufpi.cli.obj import Obj
from tufpi.cli.progress import progress
from tufpi.cli.publishing import trust_publish
from tufpi.cli.rotation import run_recovery
from tufpi.config import Settings
from tufpi.index.names import normalize
from tufpi.keys import LogKeyError, dev, load_or_create_log_key, load_signer, public_key
from tufpi.services import Services
from tufpi.signer import (
    LeadershipLost,
    exit_with_parent,
    notify_ready,
    notify_standby,
    sign_until_stopped,
    stop_on_signals,
)
from tufpi.tlog.notes import ED25519, verifier_for
from tufpi.tlog.policy import LogPolicy
from tufpi.transparency import LogError
from tufpi.trust import state
from tufpi.trust.init import OfflineSigners, dev_keyset, initialise
from tufpi.trust.log import recent_changes
from tufpi.trust.status import expiry_warnings, gather, root_fingerprint
from tufpi.trust.store import MetadataStore


def _initialised(services: Services) -> bool:
    with services.sessions() as session:
        return state.number_of_bins(session) is not None


def _dev_log_policy(settings: Settings) -> LogPolicy:
    """The transparency log root v1 pins: the log key (created when missing) under the
    configured origin, no witnesses."""
    key = load_or_create_log_key(settings.log_key_path)
    return LogPolicy(verifier_for(settings.effective_log_origin, key, ED25519))


def _init_with_dev_keys(services: Services) -> None:
    settings = services.settings
    keys_dir = settings.keys_dir.resolve()
    if keys_dir.is_relative_to(settings.effective_storage_dir.resolve()):
        raise click.ClickException("the keys directory must not be inside the served storage")
    keys = dev.load_or_create(keys_dir)
    click.secho(f"WARNING: {dev.WARNING}\n  keys: {keys_dir}", fg="red", bold=True, err=True)
    keyset = dev_keyset(keys)
    online: Signer = keys.online
    if settings.online_key:
        # A real online key (for example hsm:) with development offline keys.
        online_public = public_key(settings.online_key)
        keyset = dev_keyset(keys, online_public)
        online = load_signer(settings.online_key, [online_public])
    with progress("signing bins", settings.bins) as advance:
        result = initialise(
            services.sessions,
            services.storage,
            keyset,
            OfflineSigners(root=keys.root, targets=[keys.targets], bins=[keys.bins]),
            online,
            settings.bins,
            services.policy,
            services.clock(),
            advance,
            log=_dev_log_policy(settings),
        )
    click.echo(
        f"initialised signed metadata: {result.number_of_bins} bins, {result.targets} targets; "
        f"root sha256 {result.root_sha256}"
    )
    # The log starts with this first publication: a checkpoint is there from the start.
    sequencer = services.sequencer()
    if sequencer is not None:
        logged = sequencer.run()
        click.echo(f"transparency log started: checkpoint of {logged.size} leaves")


@click.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8080).")
@click.option("--private", is_flag=True, default=None, help="Reads need a token too.")
@click.option("--no-signer", is_flag=True, help="Do not start a signer (its child process).")
@click.option("--log-level", default="info", show_default=True)
@click.pass_obj
def serve(
    obj: Obj,
    host: str | None,
    port: int | None,
    private: bool | None,
    no_signer: bool,
    log_level: str,
) -> None:
    """Run the index; on the embedded default it also signs (PEP 458), in a child process.

    On SQLite the first start migrates the database and initialises the signed metadata
    with a development key set (see `tufpi trust init`).
    """
    from tufpi.http import serve_app
    from tufpi.web import create_app, listening_url, start_lines

    settings = obj.settings(
        host=host, port=port, private=private, signer=False if no_signer else None
    )
    if settings.is_sqlite:
        migrate(settings)
    services = Services.from_settings(settings)
    if not _initialised(services):
        if not settings.is_sqlite:
            raise click.ClickException("run `tufpi db upgrade` and `tufpi trust init` first")
        _init_with_dev_keys(services)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(message)s")
    # Before serving: publish or delete what a killed process left staged.
    sweep_staged(services)
    services.index.checkpoint = upload_checkpoint()
    click.echo(f"tufpi: serving {settings.data_dir} on http://{settings.host}:{settings.port}/")
    # At every start, not only the first: the pin users need, without database access.
    for line in start_lines(listening_url(settings), root_fingerprint(services.storage)):
        click.echo(line)
    signer_command = _signer_command(obj, log_level) if settings.signer else None
    serve_app(create_app(services, signer_command), settings, log_level)


def _signer_command(obj: Obj, log_level: str) -> list[str]:
    """``tufpi signer`` with this interpreter and this command's global options (its
    environment, TUFPI_* and LD_PRELOAD alike, is inherited)."""
    command = [sys.executable, "-m", "tufpi.cli"]
    if obj.config is not None:
        command += ["--config", str(obj.config)]
    for name in ("data_dir", "database_url"):
        value = obj.overrides.get(name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    return [*command, "signer", "--log-level", log_level]


@click.command()
@click.option("--debug-crash-at", hidden=True, help="Testing only: SIGKILL at POINT[:N].")
@click.option(
    "--debug-pause-at",
    hidden=True,
    envvar=SIGNER_PAUSE_ENV,
    help="Testing only: hold the publication at POINT[:N] until asked to stop.",
)
@click.option("--log-level", default="info", show_default=True)
@click.option("--ready-fd", type=int, hidden=True, help="serve's child: report readiness here.")
@click.option("--parent-pid", type=int, hidden=True, help="serve's child: stop when it ends.")
@click.pass_obj
def signer(
    obj: Obj,
    debug_crash_at: str | None,
    debug_pause_at: str | None,
    log_level: str,
    ready_fd: int | None,
    parent_pid: int | None,
) -> None:
    """Run the signer alone (the one active signer is elected by a database lock)."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(message)s")
    stop = threading.Event()
    stop_on_signals(stop, (signal.SIGTERM, signal.SIGINT))
    if parent_pid is not None:
        exit_with_parent(parent_pid, stop)
    services = obj.services()
    on_ready = on_standby = None
    if ready_fd is not None:
        fd = ready_fd
        on_ready = lambda _result: notify_ready(fd)  # noqa: E731
        on_standby = lambda: notify_standby(fd)  # noqa: E731
    crash = crash_at(debug_crash_at)
    pause = pause_at(debug_pause_at, stop)

    def checkpoint(name: str) -> None:
        pause(name)
        crash(name)

    try:
        publisher = services.publisher(checkpoint)
    except (LogError, LogKeyError) as e:
        # A log key that is not the root's would sign checkpoints no client accepts.
        raise click.ClickException(f"the signer cannot start: {e}") from e
    try:
        sign_until_stopped(
            publisher,
            services.engine,
            services.lock_file,
            stop,
            services.settings.publish_interval,
            on_ready,
            on_standby,
            housekeeping=lambda: sweep_staged(services),
        )
    except LeadershipLost as e:
        # Exit with an error: the supervisor starts it again, as a standby.
        raise click.ClickException(str(e)) from e


@click.group()
def trust() -> None:
    """The signed repository metadata (PEP 458)."""


@trust.command("init")
@click.option("--bins", type=int, help="Number of bin-n roles, a power of two (default 16384).")
@click.pass_obj
def trust_init(obj: Obj, bins: int | None) -> None:
    """Sign the first metadata, with a development key set in the keys directory.

    Production keys come from a key ceremony; the development set keeps every private key in
    one directory and is only for trying tufpi and for tests.
    """
    settings = obj.settings(bins=bins)
    migrate(settings)
    services = Services.from_settings(settings)
    if _initialised(services):
        raise click.ClickException("the signed metadata is already initialised")
    _init_with_dev_keys(services)


# `tufpi trust status` exits with this when an offline role needs a ceremony soon.
EXIT_EXPIRY_WARNING = 3


@trust.command("status")
@click.option(
    "--warn-days",
    type=int,
    default=30,
    show_default=True,
    help="Warn (exit code 3) when root, targets or bins expire within this many days.",
)
@click.pass_obj
def trust_status(obj: Obj, warn_days: int) -> None:
    """Each role's version and expiry, the root fingerprint, pending changes.

    Exits 3 when an offline role expires within --warn-days, or any role has expired.
    """
    services = obj.services()
    if not MetadataStore(services.storage).exists():
        raise click.ClickException("no signed metadata: run `tufpi trust init`")
    status = gather(services.sessions, services.storage)
    click.echo(f"root fingerprint (sha256 of 1.root.json): {status.root_fingerprint}")
    for line in status.roles:
        name = f"{line.name} ({status.number_of_bins})" if line.name == "bin-n" else line.name
        click.echo(
            f"{name:12} version {line.version:>7}  expires {line.expires:%Y-%m-%d %H:%M:%S}Z"
        )
    click.echo(f"pending changes: {status.pending_changes}")
    last = status.last_publication
    click.echo(
        f"last publication of a change: {f'{last:%Y-%m-%d %H:%M:%S}Z' if last else 'none yet'}"
    )
    warnings = expiry_warnings(status, services.clock(), warn_days)
    for warning in warnings:
        click.secho(f"WARNING: {warning}", fg="red", err=True)
    if warnings:
        sys.exit(EXIT_EXPIRY_WARNING)


@trust.command("resign")
@click.pass_obj
def trust_resign(obj: Obj) -> None:
    """Have the signer re-sign every bin-n, snapshot and timestamp at its next batch.

    Used while rotating the online key: once the signer runs with the new key, this puts
    the new key's signature on every online role before the old key is removed.
    """
    services = obj.services()
    with services.sessions.begin() as session:
        count = state.make_all_bins_due(session)
    click.echo(f"{count} bin-n roles (and snapshot, timestamp) will be re-signed")


@trust.command("recover")
@click.pass_obj
def trust_recover(obj: Obj) -> None:
    """Recover from a leaked online key (PEP 458), once root and bins name a new one.

    \b
    Before: give root and bins the new online key and remove the leaked one
    (`tufpi ceremony propose root|bins --add-online-key NEW.pub.json
    --remove-online-key OLDKEYID --compromised`, signed and imported), stop the signer,
    and set TUFPI_ONLINE_KEY to the new key. (`tufpi ceremony rotate-online --compromised`
    guides through all of it.) Then this command lists what the published
    bins say that the database does not, rebuilds every bin-n from the database, and
    publishes a snapshot and timestamp above every version the attacker published.
    """
    result = run_recovery(obj.services())
    click.echo(
        f"re-signed {result.bins} bin-n roles from the database; snapshot "
        f"{result.snapshot_version}, timestamp {result.timestamp_version}"
    )


@trust.command("log")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--project", help="Only changes to this project's files and pages.")
@click.pass_obj
def trust_log(obj: Obj, limit: int, project: str | None) -> None:
    """The transaction log: every target change, who made it, and which snapshot published it."""
    services = obj.services()
    wanted = normalize(project) if project else None
    for change in recent_changes(services.sessions, limit, wanted):
        published = (
            f"snapshot {change.published_version}" if change.published_version else "pending"
        )
        click.echo(
            f"{change.id}\t{change.created:%Y-%m-%d %H:%M:%S}\t{change.actor}\t"
            f"{change.action}\t{change.path}\t{published}"
        )


__all__ = ["serve", "signer", "trust"]


trust.add_command(trust_publish)
