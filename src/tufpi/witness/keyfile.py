"""A witness's key file: its name and Ed25519 private key on one line, in the private-key
form of Go's signed-note package (golang.org/x/mod/sumdb/note) with the cosignature/v1
signature type (0x04) of c2sp.org/tlog-cosignature::

    PRIVATE+KEY+<name>+<8 hex digits of key ID>+base64(0x04 || 32-byte Ed25519 seed)

The key ID is the one of the public vkey (``name+keyid+base64(0x04 || public key)``), so
the file names the witness as its vkey does. Written once, mode 0600, never over a file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tufpi.tlog import notes
from tufpi.tlog.notes import NoteError
from tufpi.tlog.witness import WitnessKey

_PREFIX = "PRIVATE+KEY+"
_SEED_SIZE = 32
# A key line is short; anything longer is not a key file.
_MAX_BYTES = 4096


class WitnessKeyError(Exception):
    """The witness key file is missing, unreadable or malformed."""


def encode_key(key: WitnessKey) -> str:
    """The key file's line (with its newline)."""
    seed = key.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw = bytes([notes.COSIGNATURE_V1]) + seed
    key_id = key.verifier.key_id.hex()
    return f"{_PREFIX}{key.name}+{key_id}+{base64.b64encode(raw).decode()}\n"


def parse_key(text: str) -> WitnessKey:
    """The key a key file's text holds, its key ID checked against its name and key."""
    line = text.removesuffix("\n")
    if not line.startswith(_PREFIX) or "\n" in line:
        raise WitnessKeyError("not a witness key (PRIVATE+KEY+name+keyid+key on one line)")
    parts = line[len(_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise WitnessKeyError("a witness key is PRIVATE+KEY+name+keyid+key")
    name, key_id, data = parts
    try:
        notes.check_key_name(name)
        raw = notes.strict_b64(data, "the witness key")
    except NoteError as e:
        raise WitnessKeyError(str(e)) from None
    if len(raw) != 1 + _SEED_SIZE or raw[0] != notes.COSIGNATURE_V1:
        raise WitnessKeyError("the witness key is not a cosignature/v1 (0x04) Ed25519 key")
    key = WitnessKey(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key.verifier.key_id.hex() != key_id:
        raise WitnessKeyError(f"the key ID {key_id[:16]!r} is not the one of its name and key")
    return key


def create_key(path: Path, name: str) -> WitnessKey:
    """Generate a witness key named ``name`` and write it to ``path`` (0600, never over an
    existing file)."""
    try:
        notes.check_key_name(name)
    except NoteError as e:
        raise WitnessKeyError(str(e)) from None
    key = WitnessKey(name, Ed25519PrivateKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise WitnessKeyError(f"{path} exists already; not replaced") from e
    except OSError as e:
        raise WitnessKeyError(f"cannot write {path}: {e.strerror or e}") from e
    with os.fdopen(fd, "w") as out:
        out.write(encode_key(key))
        out.flush()
        os.fsync(out.fileno())
    return key


def load_key(path: Path) -> WitnessKey:
    """The witness key in ``path``."""
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_BYTES + 1)
    except OSError as e:
        raise WitnessKeyError(f"cannot read the witness key {path}: {e.strerror or e}") from e
    if len(data) > _MAX_BYTES:
        raise WitnessKeyError(f"{path} is not a witness key (too long)")
    try:
        return parse_key(data.decode("ascii"))
    except UnicodeDecodeError:
        raise WitnessKeyError(f"{path} is not a witness key (not ASCII)") from None
    except WitnessKeyError as e:
        raise WitnessKeyError(f"{path}: {e}") from None
