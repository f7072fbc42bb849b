"""The ``tufpi`` command line.

Each command's module is imported only when that command runs (or help lists it): the
client's ``install``, ``proxy`` and ``pin`` start without loading the database, storage and
trust layers the server's commands need.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from tufpi.cli.obj import Obj

# Command name -> "module:attribute" in tufpi.cli.
COMMANDS = {
    "db": "admin:db",
    "user": "admin:user",
    "token": "manage:token",
    "yank": "manage:yank",
    "remove": "manage:remove",
    "owner": "manage:owner",
    "journal": "manage:journal",
    "serve": "trust:serve",
    "signer": "trust:signer",
    "trust": "trust:trust",
    "proxy": "client:proxy",
    "install": "client:install",
    "pin": "client:pin",
    "monitor": "monitor:monitor",
    "import": "importing:import_",
    "ceremony": "ceremony:ceremony_group",
    "witness": "witness:witness_group",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name, when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, attribute = where.partition(":")
        command = getattr(importlib.import_module(f"tufpi.cli.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.option(
    "--config", type=click.Path(path_type=Path, dir_okay=False), help="TOML settings file."
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Data directory (env TUFPI_DATA_DIR; default ./tufpi-data).",
)
@click.option("--database-url", help="SQLAlchemy URL (env TUFPI_DATABASE_URL; default SQLite).")
@click.option(
    "--index",
    metavar="URL",
    help="Manage projects on the index at URL through its API (yank, remove, owner, token), "
    "as their owner, instead of on this server's database.",
)
@click.option(
    "--token",
    envvar="TUFPI_INDEX_TOKEN",
    show_envvar=True,
    help="The account-wide API token --index acts with (better: the TUFPI_INDEX_TOKEN "
    "variable, which other users cannot read in the process list).",
)
@click.pass_context
def main(
    ctx: click.Context,
    config: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    index: str | None,
    token: str | None,
) -> None:
    """tufpi: a Python package index that signs its repository metadata (PEP 458).

    The index signs what it accepted, so storage, CDNs, mirrors and the network cannot alter,
    swap, replay or hide files unnoticed. It does not protect against a stolen maintainer
    account or a compromised index.
    """
    ctx.obj = Obj(config, {"data_dir": data_dir, "database_url": database_url}, index, token)


__all__ = ["main"]
