"""Administration of the index: schema and users (tokens, yanks, removals and owners are
``cli.manage``'s)."""

from __future__ import annotations

import click

from tufpi.cli._common import migrate, reporting_problems
from tufpi.cli.obj import Obj


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Obj) -> None:
    """Apply every pending Alembic migration."""
    migrate(obj.settings())
    click.echo("database is up to date")


@click.group()
def user() -> None:
    """Accounts."""


@user.command("add")
@click.argument("name")
@click.pass_obj
def user_add(obj: Obj, name: str) -> None:
    """Create a user."""
    migrate(obj.settings())
    accounts = obj.services().accounts
    reporting_problems(lambda: accounts.add_user(name))
    click.echo(f"created user {name}")


COMMANDS = (db, user)
