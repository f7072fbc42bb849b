"""The ``tufpi`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tufpi.config import ConfigError, Settings, from_environment
from tufpi.db import make_engine, upgrade
from tufpi.index.errors import IndexProblem
from tufpi.index.service import IndexService


class _Obj:
    def __init__(self, config: Path | None, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides

    def settings(self, **more: Any) -> Settings:
        try:
            return from_environment(self.config, **{**self.overrides, **more})
        except ConfigError as e:
            raise click.ClickException(str(e)) from e


def _index(settings: Settings) -> IndexService:
    from tufpi.web.app import build_context

    return build_context(settings).index


def _migrate(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings.effective_database_url))


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
    """tufpi: a Python package index whose repository metadata is signed (PEP 458).

    The index signs what it accepted, so storage, CDNs, mirrors and the network cannot alter
    or hide files unnoticed. It does not protect against a stolen maintainer account or a
    compromised index.
    """
    ctx.obj = _Obj(config, {"data_dir": data_dir, "database_url": database_url})


@main.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8080).")
@click.option("--private", is_flag=True, default=None, help="Reads need a token too.")
@click.option("--log-level", default="info", show_default=True)
@click.pass_obj
def serve(
    obj: _Obj, host: str | None, port: int | None, private: bool | None, log_level: str
) -> None:
    """Run the index (simple API, upload API, JSON API, downloads)."""
    from tufpi.web.app import create_app
    from tufpi.web.server import run

    settings = obj.settings(host=host, port=port, private=private)
    if settings.is_sqlite:
        # The embedded default migrates itself; PostgreSQL deployments run `tufpi db upgrade`.
        _migrate(settings)
    click.echo(f"tufpi: serving {settings.data_dir} on http://{settings.host}:{settings.port}/")
    run(create_app(settings), settings.host, settings.port, log_level)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: _Obj) -> None:
    """Apply every pending Alembic migration."""
    _migrate(obj.settings())
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Accounts."""


@user.command("add")
@click.argument("name")
@click.pass_obj
def user_add(obj: _Obj, name: str) -> None:
    """Create a user."""
    settings = obj.settings()
    _migrate(settings)
    _run(lambda: _index(settings).add_user(name))
    click.echo(f"created user {name}")


@main.group()
def token() -> None:
    """API tokens (username __token__, the token as password)."""


@token.command("create")
@click.option("--user", "user_name", required=True, help="Owner of the token.")
@click.option("--project", help="Limit the token to this project.")
@click.option("--description", default="", help="A note to recognise the token by.")
@click.pass_obj
def token_create(obj: _Obj, user_name: str, project: str | None, description: str) -> None:
    """Create an API token and print it (it is shown only once)."""
    settings = obj.settings()
    secret = _run(lambda: _index(settings).create_token(user_name, project, description))
    click.echo(secret)


@token.command("revoke")
@click.argument("token_or_id")
@click.pass_obj
def token_revoke(obj: _Obj, token_or_id: str) -> None:
    """Revoke a token, given the token itself or its id from `token list`."""
    settings = obj.settings()
    _run(lambda: _index(settings).revoke_token(token_or_id))
    click.echo("token revoked")


@token.command("list")
@click.pass_obj
def token_list(obj: _Obj) -> None:
    """List tokens (never their secrets)."""
    for token_id, owner, project, description, revoked in _index(obj.settings()).list_tokens():
        state = "revoked" if revoked else "active"
        click.echo(f"{token_id}\t{owner}\t{project or '*'}\t{state}\t{description}")


@main.command()
@click.argument("project")
@click.argument("version")
@click.option("--reason", help="Why, shown to installers (PEP 592).")
@click.option("--undo", is_flag=True, help="Un-yank the release.")
@click.pass_obj
def yank(obj: _Obj, project: str, version: str, reason: str | None, undo: bool) -> None:
    """Yank a release (PEP 592): installers skip it unless it is pinned exactly."""
    settings = obj.settings()
    _run(lambda: _index(settings).set_yanked(project, version, not undo, reason))
    click.echo(f"{'un-yanked' if undo else 'yanked'} {project} {version}")


def _run(action: Any) -> Any:
    try:
        return action()
    except IndexProblem as e:
        raise click.ClickException(e.message) from e


if __name__ == "__main__":
    sys.exit(main())
