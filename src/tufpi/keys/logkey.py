"""The transparency log's key: one Ed25519 private key in a PKCS#8 PEM file.

The log signs its checkpoints as C2SP signed notes, not TUF metadata, so this is a raw
Ed25519 key rather than a securesystemslib signer; like the online key it is held by the
signer, and like every key its public half is stated in the TUF root (``tufpi.tlog.policy``).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LOG_KEY_FILE = "log.pem"


class LogKeyError(Exception):
    """The log key file is missing, unreadable or not an unencrypted Ed25519 key."""


def load_log_key(path: Path) -> Ed25519PrivateKey:
    """The log's private key from ``path``."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LogKeyError(f"cannot read the log key {path}: {e.strerror or e}") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as e:
        raise LogKeyError(
            f"the log key {path} is encrypted; the signer needs it unencrypted"
        ) from e
    except ValueError as e:
        raise LogKeyError(f"the log key {path} is not a PEM private key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise LogKeyError(f"the log key {path} is not an Ed25519 key")
    return key


def create_log_key(path: Path) -> Ed25519PrivateKey:
    """Generate a log key and write it to ``path`` (mode 0600; never over an existing file)."""
    key = Ed25519PrivateKey.generate()
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise LogKeyError(f"the log key {path} exists already; not replaced") from e
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return key


def load_or_create_log_key(path: Path) -> Ed25519PrivateKey:
    """The log key at ``path``, generated first if there is none (the development default)."""
    if not path.exists():
        return create_log_key(path)
    return load_log_key(path)
