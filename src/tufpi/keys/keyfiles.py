"""Offline key files: encrypted PKCS#8 private keys and public key files, and loading a
signer from either a key file or a PKCS#11 URI (``hsm:``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner, Key, Signer, SSlibKey

from tufpi.keys.online import PIN_ENV, public_key


class KeyFileError(Exception):
    """A key file that cannot be written, read or unlocked; the message says why."""


def generate(directory: Path, name: str, passphrase: bytes) -> tuple[Path, Key]:
    """A new Ed25519 key: ``NAME.pem`` (PKCS#8, encrypted) and ``NAME.pub.json``."""
    if len(passphrase) < 8:
        raise KeyFileError("the passphrase must have at least 8 characters")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    signer = CryptoSigner(key)
    private = key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase)
    )
    pem = directory / f"{name}.pem"
    fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    write_public(directory / f"{name}.pub.json", signer.public_key)
    return pem, signer.public_key


def write_public(path: Path, key: Key) -> None:
    path.write_text(json.dumps({"keyid": key.keyid, **key.to_dict()}, indent=1) + "\n")


def read_public(path: Path) -> Key:
    try:
        body = json.loads(path.read_text())
        keyid = body.pop("keyid")
        return SSlibKey.from_dict(keyid, body)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise KeyFileError(f"{path}: not a public key file: {e}") from e


def is_encrypted(path: Path) -> bool:
    """Whether a PEM key file is encrypted (ceremony keys are; development keys are not)."""
    try:
        return b"ENCRYPTED" in path.read_bytes().split(b"\n", 1)[0]
    except OSError:
        return False


def load_signer(spec: str, passphrase: bytes | None) -> Signer:
    """A signer for an encrypted PKCS#8 file path, or an ``hsm:`` URI (PIN in the env).

    Raises:
        KeyFileError: unreadable key, wrong passphrase.
    """
    if spec.startswith("hsm:"):
        if PIN_ENV not in os.environ:
            raise KeyFileError(f"the HSM needs a PIN: set {PIN_ENV}")
        key = public_key(spec)
        return Signer.from_priv_key_uri(spec, key, secrets_handler=lambda _s: os.environ[PIN_ENV])
    path = Path(spec.removeprefix("file:"))
    try:
        password = passphrase if is_encrypted(path) else None
        private = load_pem_private_key(path.read_bytes(), password)
    except OSError as e:
        raise KeyFileError(f"cannot read key {path}: {e}") from e
    except TypeError as e:
        raise KeyFileError(f"{path}: {e} (give the passphrase)") from e
    except ValueError as e:
        raise KeyFileError(f"{path}: wrong passphrase or not a private key") from e
    return CryptoSigner(private)
