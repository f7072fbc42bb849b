"""``tufpi`` imports a command's module only when that command runs: the client's commands
start without the database, storage and trust layers (a third of a second of every
``tufpi install``)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from tufpi.cli import COMMANDS, main

SERVER_SIDE = (
    "sqlalchemy",
    "tufpi.db",
    "tufpi.services",
    "tufpi.trust.publisher",
    "tufpi.index.service",
)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_resolves_to_its_own_name(name: str) -> None:
    with click.Context(main) as ctx:
        command = main.get_command(ctx, name)
    assert command is not None
    assert command.name == name.replace("_", "-"), (name, command.name)


def test_an_unknown_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tufpi.cli", "instal"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "No such command 'instal'" in result.stderr


def test_subcommands_added_by_other_modules_are_listed() -> None:
    """``ceremony rotate-online`` and ``trust publish`` live in modules of their own."""
    with click.Context(main) as ctx:
        ceremony = main.get_command(ctx, "ceremony")
        trust = main.get_command(ctx, "trust")
    assert isinstance(ceremony, click.Group)
    assert isinstance(trust, click.Group)
    assert "rotate-online" in ceremony.commands
    assert "publish" in trust.commands


# The client's commands, and the management commands (which ``tufpi --index URL`` sends to
# an index's API: their server-side form imports it only when run without --index).
@pytest.mark.parametrize(
    "name", ["install", "proxy", "pin", "yank", "remove", "owner", "token", "journal"]
)
def test_the_client_commands_do_not_import_the_server_side(name: str) -> None:
    probe = (
        "import sys, click; from tufpi.cli import main; "
        f"main.get_command(click.Context(main), {name!r}); "
        f"print(sorted(m for m in {SERVER_SIDE!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_a_server_command_does_import_them() -> None:
    """The probe above can see the server side: ``serve`` loads it."""
    probe = (
        "import sys, click; from tufpi.cli import main; "
        "main.get_command(click.Context(main), 'serve'); "
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"
