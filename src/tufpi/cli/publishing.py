"""``tufpi trust publish``: publish now, in the foreground, with progress (back-signing)."""

from __future__ import annotations

import threading
import time

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tufpi.cli.obj import Obj
from tufpi.services import Services
from tufpi.signer import leadership
from tufpi.trust import state


@click.command("publish")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-sign every bin-n from the database (back-signing), not only those with changes.",
)
@click.option(
    "--wait",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for another active signer to stop before giving up.",
)
@click.option("--workers", type=click.IntRange(0, 256), help="Signing processes (0: one per CPU).")
@click.pass_obj
def trust_publish(obj: Obj, everything: bool, wait: float, workers: int | None) -> None:
    """Publish what is pending now, in this process, and exit.

    Takes the signer election for the duration (so no other signer publishes meanwhile),
    signs the bins with changes (with --all: every bin, rebuilt from the database) across
    worker processes, then snapshot and timestamp, and reports how long it took. Used to
    back-sign an index loaded in bulk; a running signer does the same on its own.
    """
    services = obj.services(signing_workers=workers)
    console = Console(stderr=True)
    give_up = threading.Event()
    timer = threading.Timer(wait, give_up.set)
    timer.start()
    try:
        with leadership(services.engine, services.lock_file, give_up, poll=0.5) as leader:
            timer.cancel()
            if not leader:
                raise click.ClickException(
                    f"another signer stayed active for {wait:.0f} s (tufpi serve or tufpi "
                    "signer); stop it first, or leave the publishing to it "
                    "(`tufpi trust resign` has it re-sign every bin)"
                )
            _publish(services, everything, console)
    finally:
        timer.cancel()


def _publish(services: Services, everything: bool, console: Console) -> None:
    started = time.monotonic()
    marks: dict[str, float] = {}

    def checkpoint(name: str) -> None:
        marks.setdefault(name, time.monotonic() - started)

    publisher = services.publisher(checkpoint)
    if everything:
        with services.sessions.begin() as session:
            state.make_all_bins_due(session)
    columns = (
        TextColumn("signing bins"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("bins", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        publisher.progress = advance
        try:
            result = publisher.publish()
            workers = len(publisher.pool.worker_pids()) if publisher.pool else 0
        finally:
            publisher.close()
    elapsed = time.monotonic() - started
    if not result.published:
        click.echo("nothing to publish: no pending change and nothing close to expiry")
        return
    published = marks.get("timestamp", elapsed)
    with services.sessions() as session:
        targets = state.count_targets(session)
    click.echo(
        f"published snapshot {result.snapshot_version} (timestamp {result.timestamp_version}): "
        f"{result.bins} bins, {result.changes} changes, {targets} targets in the repository; "
        + (f"bins signed by {workers} worker processes" if workers else "bins signed in-process")
    )
    click.echo(
        f"timestamp.json in place after {published:.1f} s "
        f"({targets / published:,.0f} targets/s); recorded in the database after "
        f"{elapsed:.1f} s"
    )
