"""A development key set: every role's key as a PEM file in one directory.

Fine for trying tufpi and for tests; never for production, where root, targets and bins keys
are made and kept offline in a key ceremony, and the server holds only the online key.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner

WARNING = (
    "DEVELOPMENT KEYS: every private key of this repository, the offline root, targets and "
    "bins keys included, is in this directory unencrypted. Anyone who can read it can sign "
    "anything. For production, create the offline keys in a key ceremony and give the server "
    "only the online key."
)
ROOT_KEYS = 3
ONLINE_KEY_FILE = "online.pem"


@dataclasses.dataclass(frozen=True)
class DevKeys:
    """The development signers: three root keys, one each for targets, bins and online."""

    root: list[CryptoSigner]
    targets: CryptoSigner
    bins: CryptoSigner
    online: CryptoSigner


def _names() -> list[str]:
    return [f"root-{i}.pem" for i in range(1, ROOT_KEYS + 1)] + [
        "targets.pem",
        "bins.pem",
        ONLINE_KEY_FILE,
    ]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _load(path: Path) -> CryptoSigner:
    return CryptoSigner(load_pem_private_key(path.read_bytes(), None))


def load_or_create(directory: Path) -> DevKeys:
    """Load the development keys in ``directory``, generating any that are missing."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    warning = directory / "WARNING.txt"
    if not warning.exists():
        warning.write_text(WARNING + "\n")
    for name in _names():
        path = directory / name
        if not path.exists():
            _write_private(path, CryptoSigner.generate_ed25519().private_bytes)
    signers = [_load(directory / name) for name in _names()]
    return DevKeys(
        root=signers[:ROOT_KEYS], targets=signers[-3], bins=signers[-2], online=signers[-1]
    )


def online_key_uri(directory: Path) -> str:
    """The securesystemslib URI of the development online key."""
    return f"file2:{(directory / ONLINE_KEY_FILE).resolve()}"
