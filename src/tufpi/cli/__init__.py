"""The ``tufpi`` command line."""

from __future__ import annotations

from pathlib import Path

import click

from tufpi.cli import admin, ceremony, client, importing, publishing, rotation, trust
from tufpi.cli._common import Obj


@click.group()
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file."
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Data directory (env TUFPI_DATA_DIR; default ./tufpi-data).",
)
@click.option("--database-url", help="SQLAlchemy URL (env TUFPI_DATABASE_URL; default SQLite).")
@click.pass_context
def main(
    ctx: click.Context, config: Path | None, data_dir: Path | None, database_url: str | None
) -> None:
    """tufpi: a Python package index that signs its repository metadata (PEP 458).

    The index signs what it accepted, so storage, CDNs, mirrors and the network cannot alter,
    swap, replay or hide files unnoticed. It does not protect against a stolen maintainer
    account or a compromised index.
    """
    ctx.obj = Obj(config, {"data_dir": data_dir, "database_url": database_url})


ceremony.ceremony_group.add_command(rotation.rotate_online)
trust.trust.add_command(publishing.trust_publish)
for command in (
    *admin.COMMANDS,
    trust.serve,
    trust.signer,
    trust.trust,
    client.proxy,
    client.install,
    client.pin,
    importing.import_,
    ceremony.ceremony_group,
):
    main.add_command(command)

__all__ = ["main"]
