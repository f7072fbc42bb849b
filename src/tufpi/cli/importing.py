"""``tufpi import SOURCE``: bring an existing repository into the index."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from tufpi.cli._common import crash_at, sweep_staged
from tufpi.cli.obj import Obj
from tufpi.importer import KINDS, ImportFailed, ImportOptions, run_import
from tufpi.importer.report import render


@click.command("import")
@click.argument("source")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="dir (files anywhere below, as pypiserver keeps them), mirror (a PEP 503 static "
    "mirror, as bandersnatch writes it) or url (an index's simple API). Default: detected.",
)
@click.option(
    "--jobs",
    type=int,
    default=lambda: os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="Worker processes hashing files and reading their metadata.",
)
@click.option("--downloads", type=int, default=8, show_default=True, help="Parallel downloads.")
@click.option(
    "--no-publish",
    is_flag=True,
    help="Do not sign: leave the pending targets to the active signer.",
)
@click.option(
    "--wait",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for an active signer to stop before giving up.",
)
@click.option(
    "--owner",
    metavar="USER",
    help="Make USER (see `tufpi user add`) owner of every project the import creates, so "
    "that USER's tokens can upload to them. Without it, imported projects have no owner.",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the summary, with every skipped file, as JSON.",
)
@click.option("--debug-crash-at", hidden=True, help="Testing only: SIGKILL at POINT[:N].")
@click.pass_obj
def import_(
    obj: Obj,
    source: str,
    kind: str | None,
    jobs: int,
    downloads: int,
    no_publish: bool,
    wait: float,
    owner: str | None,
    report: Path | None,
    debug_crash_at: str | None,
) -> None:
    """Import SOURCE: a directory of distributions, a static mirror, or a simple API URL.

    Files are hashed in parallel and recorded project by project, as uploads would have
    been; a re-run skips what is already imported. All targets are then signed in one
    batch, holding the signer election meanwhile (or left to the active signer with
    --no-publish). Skipped files are summarised with the reason.
    """
    services = obj.services()
    sweep_staged(services)  # what a killed import or upload left staged
    console = Console(stderr=True)
    options = ImportOptions(
        source=source,
        kind=kind,  # type: ignore[arg-type]  # click.Choice(KINDS) guarantees a Kind
        jobs=max(1, jobs),
        downloads=max(1, downloads),
        publish=not no_publish,
        wait=wait,
        owner=owner,
    )
    try:
        summary = run_import(services, options, console, crash_at(debug_crash_at))
    except ImportFailed as e:
        raise click.ClickException(str(e)) from e
    render(summary, Console())
    if owner is None and summary.projects_created:
        click.echo(ownerless_note(summary.projects_created))
    if report is not None:
        summary.write_json(report)


def ownerless_note(projects: int) -> str:
    """What an import without ``--owner`` says of the projects it created: nobody may
    upload to them until an administrator gives each an owner."""
    which = "1 project" if projects == 1 else f"{projects} projects"
    return (
        f"{which} imported without --owner now {'has' if projects == 1 else 'have'} no "
        "owner: nobody can upload to them, yank or remove their files until each has one:\n"
        "  tufpi owner add PROJECT USER"
    )
