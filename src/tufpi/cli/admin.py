"""Administration of the index: schema and users, their passwords and two-factor sign-in
(tokens, yanks, removals and owners are ``cli.manage``'s)."""

from __future__ import annotations

import sys

import click

from tufpi.cli._common import migrate, reporting_problems
from tufpi.cli.obj import Obj
from tufpi.index.logins import LoginService
from tufpi.index.passwords import Passwords, password_problem


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


def _logins(obj: Obj) -> LoginService:
    services = obj.services()
    return LoginService(services.sessions, services.index.writes, Passwords(1), services.clock)


def _new_password(from_stdin: bool) -> str:
    """The password to set: the first line of standard input, or asked twice on the terminal
    (never an argument: command lines are visible to every user of the machine)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError(
            "no terminal to ask the password on: give it with --password-stdin "
            "(or --no-password for an account that uploads with API tokens only)"
        )
    password: str = click.prompt(
        "Password (at least 8 characters)", hide_input=True, confirmation_prompt=True
    )
    return password


def _checked(password: str) -> str:
    problem = password_problem(password)
    if problem is not None:
        raise click.ClickException(problem)
    return password


@user.command("add")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input's first line."
)
@click.option(
    "--no-password", is_flag=True, help="No web sign-in: the account uses API tokens only."
)
@click.pass_obj
def user_add(obj: Obj, name: str, password_stdin: bool, no_password: bool) -> None:
    """Create a user, with a password for signing in on the web (asked on the terminal)."""
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    password = None if no_password else _checked(_new_password(password_stdin))
    migrate(obj.settings())
    accounts = obj.services().accounts
    password_hash = Passwords(1).hash(password) if password is not None else None
    reporting_problems(lambda: accounts.add_user(name, password_hash))
    click.echo(f"created user {name}" + ("" if password else " (API tokens only, no web sign-in)"))


@user.command("password")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input's first line."
)
@click.pass_obj
def user_password(obj: Obj, name: str, password_stdin: bool) -> None:
    """Set a user's password; its web sessions end and a lock-out is lifted."""
    password = _checked(_new_password(password_stdin))
    logins = _logins(obj)
    reporting_problems(lambda: logins.set_password(name, password))
    click.echo(f"password of {name} set; its web sessions are signed out")


@user.command("reset-2fa")
@click.argument("name")
@click.pass_obj
def user_reset_2fa(obj: Obj, name: str) -> None:
    """Turn a user's two-factor sign-in off (a lost phone); its web sessions end."""
    logins = _logins(obj)
    reporting_problems(lambda: logins.reset_totp(name))
    click.echo(f"two-factor sign-in of {name} is off; its web sessions are signed out")


COMMANDS = (db, user)
