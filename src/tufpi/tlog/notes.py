"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more keys; Ed25519 note
signatures (type 0x01), timestamped Ed25519 cosignatures (type 0x04, c2sp.org/tlog-
cosignature), and verifier keys in the ``name+keyid+base64(type||key)`` vkey form.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key ID || signature)>``. Parsing is strict and bounded: a note longer
than ``max_bytes`` or with more than ``max_signatures`` lines is refused before any
signature is checked, and every refusal says what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
# The spec asks verifiers to accept at least 16 signatures, and post-quantum ones are near
# 5 kB each: 128 KiB holds 16 of those with room for the text.
MAX_NOTE_BYTES = 128 * 1024
MAX_SIGNATURES = 64

_DASH = "\u2014 "
_COSIGNATURE_HEADER = "cosignature/v1\n"
_MAX_TIMESTAMP = 2**63 - 1
_KEY_SIZE = 32
_SIGNATURE_SIZE = 64


class NoteError(ValueError):
    """A note, a signature line, a key or a signature is malformed or does not verify."""


@dataclasses.dataclass(frozen=True)
class Signature:
    """One signature line: the key's name, its 4-byte key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"


@dataclasses.dataclass(frozen=True)
class Note:
    """A note's text (ending in a newline) and its signatures, in their order."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> bytes:
        """The signed note as bytes: text, blank line, signature lines."""
        if not self.signatures:
            raise NoteError("a signed note needs at least one signature")
        _check_text(self.text)
        for signature in self.signatures:
            check_key_name(signature.name)
        lines = "".join(signature.line() for signature in self.signatures)
        return f"{self.text}\n{lines}".encode()


@dataclasses.dataclass(frozen=True)
class Verifier:
    """A trusted public key: its name, signature type (``ED25519`` or
    ``COSIGNATURE_V1``) and 32-byte Ed25519 public key."""

    name: str
    type: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.type not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"signature type 0x{self.type:02x} is not supported")
        if len(self.public_key) != _KEY_SIZE:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || type || public key)[:4]."""
        return key_id(self.name, self.type, self.public_key)

    def vkey(self) -> str:
        """The key in vkey form: ``name+<8 hex digits of key ID>+base64(type || key)``."""
        data = base64.b64encode(bytes([self.type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def verify(self, text: str, signature: Signature) -> int | None:
        """Check ``signature`` (already matched by name and key ID) over the note ``text``;
        return the cosignature's timestamp (``None`` for a plain Ed25519 signature)."""
        timestamp: int | None = None
        message, raw = text.encode(), signature.signature
        if self.type == COSIGNATURE_V1:
            if len(raw) != 8 + _SIGNATURE_SIZE:
                raise NoteError(f"the cosignature of {self.name} is not 72 bytes long")
            timestamp = int.from_bytes(raw[:8], "big")
            if timestamp > _MAX_TIMESTAMP:
                raise NoteError(f"the cosignature of {self.name} has a timestamp over 2^63-1")
            message, raw = _cosigned_message(text, timestamp), raw[8:]
        if len(raw) != _SIGNATURE_SIZE:
            raise NoteError(f"the signature of {self.name} is not 64 bytes long")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(raw, message)
        except InvalidSignature:
            raise NoteError(f"the signature of {self.name} does not verify") from None
        return timestamp


@dataclasses.dataclass(frozen=True)
class Verified:
    """A signature that verified: by which key, and the cosignature's timestamp if any."""

    verifier: Verifier
    timestamp: int | None


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(key name || 0x0A || type || public key)[:4]."""
    preimage = name.encode() + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(preimage).digest()[:4]


def check_key_name(name: str) -> None:
    """Refuse a key name that is empty or holds a Unicode space or a plus sign."""
    if not name:
        raise NoteError("a key name must not be empty")
    if any(char.isspace() or char == "+" for char in name):
        raise NoteError(f"the key name {name!r} holds a space or a plus sign")
    if any(ord(char) < 0x20 for char in name):
        raise NoteError(f"the key name {name!r} holds a control character")


def verifier_for(name: str, private_key: Ed25519PrivateKey, signature_type: int) -> Verifier:
    """The verifier of a private key under ``name`` for the given signature type."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Verifier(name, signature_type, raw)


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> Signature:
    """An Ed25519 note signature (type 0x01) of ``text`` by the key named ``name``."""
    _check_text(text)
    verifier = verifier_for(name, private_key, ED25519)
    return Signature(name, verifier.key_id, private_key.sign(text.encode()))


def cosign(text: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A timestamped Ed25519 cosignature (type 0x04, cosignature/v1) of the note ``text``."""
    _check_text(text)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError(f"the timestamp {timestamp} is not within 0 and 2^63-1")
    verifier = verifier_for(name, private_key, COSIGNATURE_V1)
    raw = private_key.sign(_cosigned_message(text, timestamp))
    return Signature(name, verifier.key_id, timestamp.to_bytes(8, "big") + raw)


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n{text}".encode()


def parse_vkey(vkey: str) -> Verifier:
    """The verifier named by a vkey ``name+<key ID hex>+base64(type || key)``; the key ID
    must be the one the name and key give."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("a vkey is name+keyid+key: two plus signs are missing")
    name, hex_id, data = parts
    if len(hex_id) != 8 or any(char not in "0123456789abcdef" for char in hex_id):
        raise NoteError(f"the key ID {hex_id!r} of a vkey is not 8 lowercase hex digits")
    raw = strict_b64(data, "the key of a vkey")
    if len(raw) < 1:
        raise NoteError("the key of a vkey is empty")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.key_id.hex() != hex_id:
        raise NoteError(f"the vkey's key ID {hex_id} is not the one of its name and key")
    return verifier


def strict_b64(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 section 4) in its one canonical form, or ``NoteError``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_text(text: str) -> None:
    """A note text: non-empty, ending in a newline, no control character but newline."""
    if not text.endswith("\n"):
        raise NoteError("a note text must end with a newline")
    bad = next((char for char in text if ord(char) < 0x20 and char != "\n"), None)
    if bad is not None:
        raise NoteError(f"the note holds the control character 0x{ord(bad):02x}")


def parse_note(
    data: bytes, *, max_bytes: int = MAX_NOTE_BYTES, max_signatures: int = MAX_SIGNATURES
) -> Note:
    """Split a signed note into its text and signature lines, refusing (``NoteError``)
    anything over the bounds or malformed. No signature is checked here."""
    if len(data) > max_bytes:
        raise NoteError(f"the note is {len(data)} bytes, over the limit of {max_bytes}")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("the note is not valid UTF-8") from None
    _check_text(whole)
    split = whole.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise NoteError("the note has no signature lines")
    if len(lines) > max_signatures:
        raise NoteError(f"the note has {len(lines)} signature lines, over {max_signatures}")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> Signature:
    """One ``— <name> <base64>`` line, without its newline."""
    if not line.startswith(_DASH):
        raise NoteError(f"the signature line {line[:80]!r} does not start with an em dash")
    fields = line[len(_DASH) :].split(" ")
    if len(fields) != 2:
        raise NoteError(f"the signature line {line[:80]!r} is not '— <name> <signature>'")
    name, encoded = fields
    check_key_name(name)
    raw = strict_b64(encoded, f"the signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"the signature of {name} is too short to hold a key ID")
    return Signature(name, raw[:4], raw[4:])


def verify_note(note: Note, verifiers: Iterable[Verifier]) -> list[Verified]:
    """Check every signature of a known key (matched by name and key ID; others are ignored)
    and return those that verified, in note order. Refuse the note (``NoteError``) if one
    of them fails, or if none is by a known key."""
    known = {(verifier.name, verifier.key_id): verifier for verifier in verifiers}
    verified: list[Verified] = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is not None:
            verified.append(Verified(verifier, verifier.verify(note.text, signature)))
    if not verified:
        names = ", ".join(sorted({name for name, _ in known})) or "none"
        raise NoteError(f"the note has no signature by a trusted key (trusted: {names})")
    return verified


def open_note(data: bytes, verifiers: Sequence[Verifier]) -> tuple[Note, list[Verified]]:
    """Parse a signed note and verify it against the trusted keys."""
    note = parse_note(data)
    return note, verify_note(note, verifiers)
