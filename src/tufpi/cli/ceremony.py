"""``tufpi ceremony``: offline keys for root, targets and bins, and the signing of their
metadata by several key holders, each on their own machine."""

from __future__ import annotations

import os
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tufpi.cli.obj import Obj
from tufpi.cli.rotation import rotate_online
from tufpi.keys.keyfiles import (
    KeyFileError,
    generate,
    is_encrypted,
    load_signer,
    read_public,
    write_public,
)
from tufpi.keys.online import public_key
from tufpi.tlog import notes
from tufpi.tlog.notes import NoteError
from tufpi.trust import ceremony, offline
from tufpi.trust.ceremony import CeremonyError, Proposal, SignatureFile
from tufpi.trust.store import MetadataStore

PASSPHRASE_ENV = "TUFPI_KEY_PASSPHRASE"  # noqa: S105 - the name of a variable


def _fail(e: CeremonyError | KeyFileError) -> click.ClickException:
    return click.ClickException(f"refused: {e}")


def _passphrase(confirm: bool) -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        value = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    return value.encode()


@click.group(name="ceremony")
def ceremony_group() -> None:
    """Offline keys and their ceremonies (root, targets, bins).

    \b
    1. each holder: `keygen` (or `pubkey` for a PKCS#11 token), hands over the .pub.json;
    2. an admin: `propose` writes the unsigned next version from the index's state;
    3. each holder, offline: `show`, then `sign PROPOSAL --key KEY`;
    4. an admin: `import PROPOSAL SIGNATURES...`, refused unless every threshold is met.
    """


@ceremony_group.command()
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=".")
def keygen(name: str, out: Path) -> None:
    """Generate an Ed25519 key: NAME.pem (encrypted PKCS#8) and NAME.pub.json.

    The passphrase is asked for (or read from TUFPI_KEY_PASSPHRASE).
    """
    try:
        pem, key = generate(out, name, _passphrase(confirm=True))
    except (KeyFileError, FileExistsError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{pem}: key {key.keyid}")


@ceremony_group.command()
@click.argument("uri")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
def pubkey(uri: str, out: Path) -> None:
    """Write the public key of a PKCS#11 key (hsm:KEYID?label=TOKEN) for a proposal."""
    key = public_key(uri)
    write_public(out, key)
    click.echo(f"{out}: key {key.keyid}")


@ceremony_group.command()
@click.argument("role", type=click.Choice(list(ceremony.OFFLINE_ROLES)))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option("--expires-days", type=int, default=365, show_default=True)
@click.option(
    "--add-key",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="root: a .pub.json root key to add.",
)
@click.option("--remove-key", multiple=True, help="root: a root keyid to remove.")
@click.option("--threshold", type=int, help="root: root signatures required.")
@click.option(
    "--add-online-key",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="root and bins: a .pub.json online key to add (key rotation, step 1).",
)
@click.option(
    "--remove-online-key",
    multiple=True,
    help="root and bins: an online keyid to remove (key rotation, last step).",
)
@click.option(
    "--bins",
    "number_of_bins",
    type=int,
    help="bins: re-delegate to this many bin-n roles (a power of two).",
)
@click.option(
    "--log-key",
    "log_key",
    help="root: the transparency log's new key: its vkey (origin+keyid+key), or an Ed25519 "
    "PEM file (public, or the log's private key) named by the log's current origin.",
)
@click.option(
    "--witness",
    "add_witness",
    multiple=True,
    help="root: a witness's cosignature/v1 vkey to add to the log's policy.",
)
@click.option(
    "--remove-witness",
    multiple=True,
    help="root: a witness to remove from the log's policy (its name or vkey).",
)
@click.option(
    "--witness-threshold",
    type=int,
    help="root: witness cosignatures a checkpoint needs (k of the n witnesses listed).",
)
@click.option(
    "--compromised",
    is_flag=True,
    help="The online key to remove leaked: remove it even though published roles still "
    "bear its signature (then run `tufpi trust recover`).",
)
@click.pass_obj
def propose(
    obj: Obj,
    role: str,
    out: Path,
    expires_days: int,
    add_key: tuple[Path, ...],
    remove_key: tuple[str, ...],
    threshold: int | None,
    add_online_key: tuple[Path, ...],
    remove_online_key: tuple[str, ...],
    compromised: bool,
    number_of_bins: int | None,
    log_key: str | None,
    add_witness: tuple[str, ...],
    remove_witness: tuple[str, ...],
    witness_threshold: int | None,
) -> None:
    """Write the unsigned next version of ROLE, from the index's current metadata."""
    services = obj.services()
    store = MetadataStore(services.storage)
    try:
        default_origin = services.settings.effective_log_origin
        changes = ceremony.KeyChanges(
            add_root=[read_public(p) for p in add_key],
            remove_root=remove_key,
            threshold=threshold,
            add_online=[read_public(p) for p in add_online_key],
            remove_online=remove_online_key,
            number_of_bins=number_of_bins,
            log_key=_log_verifier(log_key, store, default_origin) if log_key else None,
            add_witnesses=[_witness_verifier(vkey) for vkey in add_witness],
            remove_witnesses=remove_witness,
            witness_threshold=witness_threshold,
        )
        proposal = offline.propose(
            store, role, services.clock(), expires_days, changes, compromised
        )
    except (CeremonyError, KeyFileError) as e:
        raise _fail(e) from e
    out.write_bytes(proposal.to_bytes())
    click.echo("\n".join(ceremony.describe(proposal)))
    click.echo(f"wrote {out}")


def _log_origin(store: MetadataStore, default: str) -> str:
    """The origin the root's log has (the settings' when the root names none)."""
    policy = ceremony.root_log_policy(store.root().signed)
    return policy.origin if policy is not None else default


def _log_verifier(spec: str, store: MetadataStore, default_origin: str) -> notes.Verifier:
    """The log key ``--log-key`` names: a vkey, or an Ed25519 PEM file named by the root's
    log origin (``default_origin`` when the root names no log)."""
    path = Path(spec)
    if not path.is_file():
        try:
            verifier = notes.parse_vkey(spec)
        except NoteError as e:
            raise CeremonyError(f"--log-key is neither a file nor a vkey: {e}") from e
        if verifier.type != notes.ED25519:
            raise CeremonyError("--log-key: the log's key must be an Ed25519 note key (0x01)")
        return verifier
    try:
        data = path.read_bytes()
        key = (
            serialization.load_pem_private_key(data, None).public_key()
            if b"PRIVATE KEY" in data
            else serialization.load_pem_public_key(data)
        )
    except (OSError, ValueError, TypeError) as e:
        raise CeremonyError(f"--log-key {path}: not an unencrypted PEM key ({e})") from e
    if not isinstance(key, Ed25519PublicKey):
        raise CeremonyError(f"--log-key {path}: not an Ed25519 key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    origin = _log_origin(store, default_origin)
    try:
        return notes.Verifier(origin, notes.ED25519, raw)
    except NoteError as e:
        raise CeremonyError(f"--log-key: the log's origin {origin!r}: {e}") from e


def _witness_verifier(vkey: str) -> notes.Verifier:
    try:
        verifier = notes.parse_vkey(vkey)
    except NoteError as e:
        raise CeremonyError(f"--witness {vkey[:60]!r}: {e}") from e
    if verifier.type != notes.COSIGNATURE_V1:
        raise CeremonyError(f"--witness {verifier.name}: not a cosignature/v1 (0x04) key")
    return verifier


def _read_proposal(path: Path) -> Proposal:
    try:
        return Proposal.from_bytes(path.read_bytes())
    except CeremonyError as e:
        raise _fail(e) from e


@ceremony_group.command()
@click.argument("proposal", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def show(proposal: Path) -> None:
    """What a proposal changes: keys added and removed, thresholds, expiry."""
    click.echo("\n".join(ceremony.describe(_read_proposal(proposal))))


@ceremony_group.command()
@click.argument("proposal", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", "key_spec", required=True, help="An encrypted .pem file or hsm: URI.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--yes", is_flag=True, help="Sign without asking.")
def sign(proposal: Path, key_spec: str, out: Path | None, yes: bool) -> None:
    """Sign a proposal; needs nothing but the proposal and the key (works offline)."""
    parsed = _read_proposal(proposal)
    click.echo("\n".join(ceremony.describe(parsed)))
    if not yes:
        click.confirm("Sign this?", abort=True)
    try:
        needs_passphrase = not key_spec.startswith("hsm:") and is_encrypted(Path(key_spec))
        passphrase = _passphrase(confirm=False) if needs_passphrase else None
        signature = ceremony.sign(parsed, load_signer(key_spec, passphrase))
    except (CeremonyError, KeyFileError) as e:
        raise _fail(e) from e
    target = out or proposal.with_name(f"{proposal.stem}.{signature.signature.keyid[:12]}.sig.json")
    target.write_bytes(signature.to_bytes())
    click.echo(f"wrote {target} (key {signature.signature.keyid})")


@ceremony_group.command("import")
@click.argument("proposal", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument(
    "signatures", type=click.Path(path_type=Path, exists=True, dir_okay=False), nargs=-1
)
@click.pass_obj
def import_(obj: Obj, proposal: Path, signatures: tuple[Path, ...]) -> None:
    """Combine the signatures and import, only if python-tuf verifies every threshold."""
    parsed = _read_proposal(proposal)
    services = obj.services()
    try:
        sigs = [SignatureFile.from_bytes(p.read_bytes()) for p in signatures]
        md = ceremony.combine(parsed, sigs)
        version = offline.import_signed(
            services.sessions, services.storage, parsed.role, md, services.clock()
        )
    except CeremonyError as e:
        raise _fail(e) from e
    then = (
        "clients walk to it on their next refresh"
        if parsed.role == "root"
        else ("the signer lists it in the next snapshot")
    )
    click.echo(f"imported {parsed.role} version {version}; {then}")


ceremony_group.add_command(rotate_online)
