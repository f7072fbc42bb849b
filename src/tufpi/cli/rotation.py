"""``tufpi ceremony rotate-online``: one command that drives an online-key rotation (or,
``--compromised``, the recovery from a leaked one); the steps are in tufpi.trust.rotation.

Also ``run_recovery``, the rebuild of every bin-n from the database with the signer
election held, shared with ``tufpi trust recover``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import click

from tufpi.cli.obj import Obj
from tufpi.keys.keyfiles import KeyFileError, read_public
from tufpi.services import Services
from tufpi.signer import leadership
from tufpi.trust import rotation
from tufpi.trust.ceremony import CeremonyError
from tufpi.trust.publisher import PublishResult
from tufpi.trust.recovery import rebuild_from_database
from tufpi.trust.store import MetadataStore


def run_recovery(services: Services) -> PublishResult:
    """List what the published bins say that the database does not, then rebuild every
    bin-n from the database above the published versions. Needs the signer stopped."""
    once = threading.Event()
    once.set()  # one try: a running signer must be stopped first
    with leadership(services.engine, services.lock_file, once) as leader:
        if not leader:
            raise click.ClickException("a signer is running: stop it first")
        return rebuild_from_database(
            services.sessions, MetadataStore(services.storage), services.publisher, click.echo
        )


@click.command("rotate-online")
@click.option(
    "--new-key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="The new online key's .pub.json (`tufpi ceremony pubkey URI`).",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=".",
    help="Where proposals are written and signatures collected.",
)
@click.option(
    "--compromised",
    is_flag=True,
    help="The old key leaked: replace it at once and rebuild every bin-n from the database "
    "(PEP 458's recovery), instead of the gradual rotation.",
)
@click.pass_obj
def rotate_online(obj: Obj, new_key: Path, workdir: Path, compromised: bool) -> None:
    """Rotate the online key without an outage (or, --compromised, recover from a leaked
    one); run it again after each step."""
    workdir.mkdir(parents=True, exist_ok=True)
    services = obj.services()
    repo = rotation.Repository(services.sessions, services.storage, services.clock)
    try:
        new = read_public(new_key)
        if compromised:
            line = rotation.recover_from_leak(
                repo, new, workdir, click.echo, lambda: run_recovery(services)
            )
        else:
            line = rotation.rotate(repo, new, workdir, click.echo)
    except (CeremonyError, KeyFileError) as e:
        raise click.ClickException(f"refused: {e}") from e
    click.echo(line)
