"""``tufpi ceremony rotate-online``: one command that drives an online-key rotation.

Run it again after each step; it looks at the repository and does (or asks for) the next:

1. propose adding the new key to root (timestamp, snapshot) and bins (bin-n), then import
   them once the holders' signatures are in the work directory;
2. ask for the signer to be restarted with the new key;
3. have every online role still signed by the old key re-signed;
4. propose removing the old key, then import once signed; done.

At every step both keys, or only the one that signed everything, are trusted: no upload,
refresh or publication fails.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import click
from sqlalchemy import update

from tufpi.cli._common import Obj
from tufpi.db.models import RoleState
from tufpi.index.time import utcnow
from tufpi.keys import ceremony
from tufpi.keys.ceremony import CeremonyError, Proposal, SignatureFile
from tufpi.keys.keyfiles import read_public
from tufpi.services import Services
from tufpi.signer import leadership
from tufpi.trust.offline import current, import_signed, signed_by
from tufpi.trust.publisher import PublishResult
from tufpi.trust.recovery import compare
from tufpi.trust.store import MetadataStore

_PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _propose_or_import(
    services: Services, workdir: Path, stem: str, changes: ceremony.KeyChanges
) -> bool:
    """Write ``stem``-root/bins proposals, or import them when signed. True once imported."""
    store = MetadataStore(services.storage)
    root, _targets, bins = current(store)
    paths = {role: workdir / f"{stem}-{role}.json" for role in ("root", "bins")}
    if not all(p.exists() for p in paths.values()):
        now = utcnow()
        paths["root"].write_bytes(ceremony.propose_root(root, now, 365, changes).to_bytes())
        paths["bins"].write_bytes(
            ceremony.propose_renewal("bins", bins, now, 365, changes).to_bytes()
        )
        click.echo(
            f"wrote {paths['root']} and {paths['bins']}: have the root and bins key holders "
            f"sign them (`tufpi ceremony sign`), put the .sig.json files in {workdir}, and "
            "run this command again"
        )
        return False
    for role in ("bins", "root"):
        proposal = Proposal.from_bytes(paths[role].read_bytes())
        signatures = [
            SignatureFile.from_bytes(p.read_bytes())
            for p in sorted(workdir.glob(f"{paths[role].stem}.*.sig.json"))
        ]
        md = ceremony.combine(proposal, signatures)
        version = import_signed(services.sessions, services.storage, role, md, utcnow())
        click.echo(f"imported {role} version {version}")
    return True


def run_recovery(services: Services) -> PublishResult:
    """List what the published bins say that the database does not, then rebuild every
    bin-n from the database above the published versions. Needs the signer stopped."""
    once = threading.Event()
    once.set()  # one try: a running signer must be stopped first
    with leadership(services.engine, services.lock_file, once) as leader:
        if not leader:
            raise click.ClickException("a signer is running: stop it first")
        differences = compare(services.sessions, MetadataStore(services.storage))
        for diff in differences:
            click.echo(f"{diff.role}\t{diff.path}\t{diff.what}")
        click.echo(f"{len(differences)} difference(s) between the published bins and the database")
        return services.publisher().recover()


def recover_from_leak(services: Services, new_key_file: Path, workdir: Path) -> str:
    """The guided recovery from a leaked online key (PEP 458), one step per run."""
    new = read_public(new_key_file)
    store = MetadataStore(services.storage)
    root, _targets, bins = current(store)
    succinct = bins.delegations.succinct_roles if bins.delegations else None
    bin_keys = set(succinct.keyids) if succinct else set()
    old = sorted((set(root.roles["timestamp"].keyids) | bin_keys) - {new.keyid})
    if old or new.keyid not in bin_keys:
        changes = ceremony.KeyChanges(add_online=[new], remove_online=old)
        if not _propose_or_import(services, workdir, "recover", changes):
            return "step 1 of 2: waiting for signatures on the proposals replacing the key"
        return (
            "step 1 of 2 done: root and bins name only the new key; stop the signer and run "
            "this command again with TUFPI_ONLINE_KEY set to the new key"
        )
    if new.keyid in store.timestamp().signatures:
        return "recovery complete: start the signer with the new key"
    result = run_recovery(services)
    return (
        f"step 2 of 2 done: every bin-n rebuilt from the database, snapshot "
        f"{result.snapshot_version}, timestamp {result.timestamp_version}; start the signer "
        "with the new key"
    )


def rotate(services: Services, new_key_file: Path, workdir: Path) -> str:
    """Do the next step of the rotation; returns a line saying where it stands."""
    new = read_public(new_key_file)
    store = MetadataStore(services.storage)
    root, _targets, bins = current(store)
    succinct = bins.delegations.succinct_roles if bins.delegations else None
    bin_keys = set(succinct.keyids) if succinct else set()
    online_keys = set(root.roles["timestamp"].keyids) | bin_keys
    old = sorted(online_keys - {new.keyid})
    if new.keyid not in root.roles["timestamp"].keyids or new.keyid not in bin_keys:
        if not _propose_or_import(services, workdir, "add", ceremony.KeyChanges(add_online=[new])):
            return "step 1 of 4: waiting for signatures on the proposals adding the new key"
        return "step 1 of 4 done: the new key is trusted; now restart the signer with it"
    if new.keyid not in store.timestamp().signatures:
        return (
            "step 2 of 4: restart the signer with TUFPI_ONLINE_KEY set to the new key, then "
            "run this command again"
        )
    remaining = signed_by(store, old)
    if remaining:
        names = [n for n in remaining if n.startswith("bin-")]
        with services.sessions.begin() as session:
            session.execute(
                update(RoleState).where(RoleState.name.in_(names)).values(expires=_PAST)
            )
        return f"step 3 of 4: the signer is re-signing {len(remaining)} role(s) with the new key"
    removal = ceremony.KeyChanges(remove_online=old)
    if old and not _propose_or_import(services, workdir, "remove", removal):
        return "step 4 of 4: waiting for signatures on the proposals removing the old key"
    return "rotation complete: only the new key signs the online roles"


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
    step = recover_from_leak if compromised else rotate
    try:
        click.echo(step(obj.services(), new_key, workdir))
    except CeremonyError as e:
        raise click.ClickException(f"refused: {e}") from e
