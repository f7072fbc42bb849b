"""Managing projects: ``tufpi token``, ``yank``, ``remove``, ``owner`` and ``journal``.

Each acts on this server's database as its administrator, or, after ``tufpi --index URL``,
calls that index's API (``cli.remote``) as the token's user, an owner of the project.
On the server ``owner add`` gives a project with no owner (one imported without
``--owner``) its first owner. The server side is imported only when used
(``Obj.administer``): the remote commands start without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tufpi.cli.obj import Obj
from tufpi.cli.remote import segment

if TYPE_CHECKING:
    from tufpi.index.accounts import Identity
    from tufpi.index.maintainers import MaintainerService


@click.group()
def token() -> None:
    """API tokens (username __token__, the token as password).

    On the server, for any user (--user); with `tufpi --index URL`, your own.
    """


@token.command("create")
@click.option("--user", "user_name", help="Owner of the token (on the server; required there).")
@click.option("--project", help="Limit the token to this project (uploads only).")
@click.option("--description", default="", help="A note to recognise the token by.")
@click.pass_obj
def token_create(obj: Obj, user_name: str | None, project: str | None, description: str) -> None:
    """Create an API token and print it (it is shown only once)."""
    remote = obj.remote()
    if remote is not None:
        if user_name is not None:
            raise click.UsageError("--user is for the server; with --index a token is yours.")
        made = remote.call("POST", "tokens", {"project": project, "description": description})
        click.echo(made["token"])
        return
    if user_name is None:
        raise click.UsageError("Missing option '--user' (whose token it is).")
    _id, secret = obj.administer(
        lambda service, admin: service.issue_token(admin, project, description, user=user_name)
    )
    click.echo(secret)


@token.command("revoke")
@click.argument("token_or_id")
@click.pass_obj
def token_revoke(obj: Obj, token_or_id: str) -> None:
    """Revoke a token, given its id from `token list` (or, on the server, the token itself)."""
    remote = obj.remote()
    if remote is not None:
        if not token_or_id.isdigit():
            raise click.UsageError("With --index, revoke a token by its id (`tufpi token list`).")
        remote.call("DELETE", f"tokens/{token_or_id}")
        click.echo("token revoked")
        return

    def revoke(service: MaintainerService, admin: Identity) -> None:
        wanted = token_or_id
        service.revoke_token(admin, int(wanted) if wanted.isdigit() else service.token_id(wanted))

    obj.administer(revoke)
    click.echo("token revoked")


@token.command("list")
@click.pass_obj
def token_list(obj: Obj) -> None:
    """List tokens, never their secrets: id, user, project (* for all), state, description."""
    remote = obj.remote()
    if remote is not None:
        for t in remote.call("GET", "tokens")["tokens"]:
            state = "revoked" if t["revoked"] else "active"
            click.echo(
                f"{t['id']}\t{t['user']}\t{t['project'] or '*'}\t{state}\t{t['description']}"
            )
        return
    for t in obj.administer(lambda service, admin: service.tokens(admin)):
        state = "revoked" if t.revoked else "active"
        click.echo(f"{t.id}\t{t.user}\t{t.project or '*'}\t{state}\t{t.description}")


@click.command()
@click.argument("project")
@click.argument("version")
@click.option("--reason", help="Why, shown to installers (PEP 592).")
@click.option("--undo", is_flag=True, help="Un-yank the release.")
@click.pass_obj
def yank(obj: Obj, project: str, version: str, reason: str | None, undo: bool) -> None:
    """Yank a release (PEP 592): installers skip it unless it is pinned exactly.

    Its files stay signed targets; the project's pages change and are re-signed.
    """
    remote = obj.remote()
    if remote is not None:
        where = f"projects/{segment(project)}/releases/{segment(version)}"
        remote.call("POST", f"{where}/{'unyank' if undo else 'yank'}", {"reason": reason})
    else:
        obj.administer(
            lambda service, admin: service.set_yanked(admin, project, version, not undo, reason)
        )
    click.echo(f"{'un-yanked' if undo else 'yanked'} {project} {version}")


@click.command()
@click.argument("project")
@click.argument("version", required=False)
@click.option("--file", "filename", help="Remove only this file.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove(obj: Obj, project: str, version: str | None, filename: str | None, yes: bool) -> None:
    """Remove a project, a release or one file: its targets leave the signed metadata.

    With --index, an owner removes a release or a file; a whole project only an
    administrator, on the server.
    """
    remote = obj.remote()
    if remote is not None and version is None:
        raise click.UsageError(
            "With --index, name the VERSION: removing a whole project is an administrator's "
            "action on the server (its name would become free for anyone)."
        )
    what = filename or (f"{project} {version}" if version else f"the whole project {project}")
    if not yes:
        click.confirm(f"Remove {what}? This cannot be undone", abort=True)
    if remote is not None:
        where = f"projects/{segment(project)}/releases/{segment(version or '')}"
        if filename is not None:
            where += f"/files/{segment(filename)}"
        removed: list[str] = remote.call("DELETE", where)["removed"]
    else:
        # As the administrator, who alone may remove a whole project.
        removed = obj.administer(
            lambda service, _: service.index.remove(project, version, filename)
        )
    for name in removed:
        click.echo(f"removed {name}")
    if not removed:
        click.echo(f"removed {project} (it had no files)")


@click.group()
def owner() -> None:
    """A project's owners: they upload, yank, remove files and releases, manage owners."""


@owner.command("list")
@click.argument("project")
@click.pass_obj
def owner_list(obj: Obj, project: str) -> None:
    """Print PROJECT's owners, one a line."""
    remote = obj.remote()
    if remote is not None:
        names: list[str] = remote.call("GET", f"projects/{segment(project)}/owners")["owners"]
    else:
        names = obj.administer(lambda service, _: service.owners(project))
    for name in names:
        click.echo(name)
    if not names:
        click.echo(f"{project} has no owner: nobody may upload to it (`tufpi owner add`)", err=True)


@owner.command("add")
@click.argument("project")
@click.argument("user")
@click.pass_obj
def owner_add(obj: Obj, project: str, user: str) -> None:
    """Make the existing account USER an owner of PROJECT."""
    remote = obj.remote()
    if remote is not None:
        remote.call("POST", f"projects/{segment(project)}/owners", {"user": user})
    else:
        obj.administer(lambda service, admin: service.add_owner(admin, project, user))
    click.echo(f"{user} now owns {project}")


@owner.command("remove")
@click.argument("project")
@click.argument("user")
@click.pass_obj
def owner_remove(obj: Obj, project: str, user: str) -> None:
    """USER stops owning PROJECT (never its last owner)."""
    remote = obj.remote()
    if remote is not None:
        remote.call("DELETE", f"projects/{segment(project)}/owners/{segment(user)}")
    else:
        obj.administer(lambda service, admin: service.remove_owner(admin, project, user))
    click.echo(f"{user} no longer owns {project}")


@click.command()
@click.option("--project", help="Only this project's entries.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@click.pass_obj
def journal(obj: Obj, project: str | None, limit: int) -> None:
    """Who did what, newest first: time, project, action, account, via, detail.

    Every upload, import, yank, removal, change of owners and of tokens (on the server).
    """
    if obj.remote() is not None:
        raise click.UsageError("`tufpi journal` reads this server's database; drop --index.")
    for e in obj.administer(lambda service, _: service.journal(project, limit)):
        when = e.time.strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{when}\t{e.project or '-'}\t{e.action}\t{e.account}\t{e.via}\t{e.detail}")
