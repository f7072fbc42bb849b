"""C2SP tlog-witness (c2sp.org/tlog-witness): the ``add-checkpoint`` request and response
bodies, and a witness's decision on a request, as pure functions (no I/O, time given).

A request body is an old size line (``old <size>``), at most 63 consistency proof lines
(one base64 hash each), an empty line, then the signed checkpoint note. The witness answers
200 with cosignature lines (c2sp.org/tlog-cosignature, type 0x04), or refuses: 400 a
malformed request, 403 no signature by the log's trusted key verifies, 404 an unknown
origin, 409 the old size is not the witness's size (the body says its size, as
``text/x.tlog.size``) or the same size with another root hash (a fork), 422 the
consistency proof does not verify. Whatever it refuses, its state is unchanged: it never
cosigns a fork nor a smaller tree than one it cosigned.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tufpi.tlog import checkpoints, hashing, notes
from tufpi.tlog.checkpoints import Checkpoint
from tufpi.tlog.notes import NoteError

# The spec: a client MUST NOT send more than 63 consistency proof lines.
MAX_PROOF_LINES = 63
_MAX_SIZE = 2**63 - 1
# "old " + 19 digits + newline, then 63 lines of 44 base64 characters and a newline each,
# then the empty line.
MAX_HEADER_BYTES = 4 + 19 + 1 + MAX_PROOF_LINES * 45 + 1
MAX_REQUEST_BYTES = MAX_HEADER_BYTES + notes.MAX_NOTE_BYTES
# A 200 answer: cosignature lines only (a witness with a few keys; 64 lines at most).
MAX_RESPONSE_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class WitnessError(ValueError):
    """A request or a response body is malformed; the message says what was wrong."""


@dataclasses.dataclass(frozen=True)
class AddCheckpoint:
    """An add-checkpoint request: the size the client thinks the witness holds, the
    consistency proof from it to the checkpoint, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def encode(self) -> bytes:
        """The request body."""
        if not 0 <= self.old_size <= _MAX_SIZE:
            raise WitnessError(f"the old size {self.old_size} is not within 0 and 2^63-1")
        if len(self.proof) > MAX_PROOF_LINES:
            raise WitnessError(f"{len(self.proof)} proof hashes, over {MAX_PROOF_LINES}")
        if any(len(h) != hashing.HASH_SIZE for h in self.proof):
            raise WitnessError(f"a proof hash is not {hashing.HASH_SIZE} bytes")
        lines = [f"old {self.old_size}\n"]
        lines += [base64.b64encode(h).decode() + "\n" for h in self.proof]
        return "".join(lines).encode() + b"\n" + self.note


def parse_request(body: bytes) -> AddCheckpoint:
    """The request a body spells; ``WitnessError`` for anything else (answered 400)."""
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessError(f"the request is {len(body)} bytes, over {MAX_REQUEST_BYTES}")
    end = body.find(b"\n\n", 0, MAX_HEADER_BYTES + 1)
    if end < 0:
        raise WitnessError(
            f"no empty line within the first {MAX_HEADER_BYTES} bytes (the old size line and "
            f"at most {MAX_PROOF_LINES} proof lines)"
        )
    try:
        header = body[: end + 1].decode("ascii")
    except UnicodeDecodeError:
        raise WitnessError("the old size and proof lines are not ASCII") from None
    first, *proof_lines = header[:-1].split("\n")
    old_size = _old_size(first)
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessError(f"{len(proof_lines)} proof lines, over {MAX_PROOF_LINES}")
    proof = tuple(_proof_hash(number, line) for number, line in enumerate(proof_lines, 1))
    return AddCheckpoint(old_size, proof, body[end + 2 :])


def _old_size(line: str) -> int:
    if not line.startswith("old "):
        raise WitnessError(f"the first line {line[:40]!r} is not 'old <size>'")
    return parse_size(line[4:], "the old size")


def parse_size(text: str, what: str = "the size") -> int:
    """A tree size in ASCII decimal without leading zeros (``0`` for zero), at most
    2^63-1."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise WitnessError(f"{what} {text[:40]!r} is not a decimal without leading zeros")
    if len(text) > 19 or int(text) > _MAX_SIZE:
        raise WitnessError(f"{what} {text[:40]!r} is over 2^63-1")
    return int(text)


def _proof_hash(number: int, line: str) -> bytes:
    try:
        raw = notes.strict_b64(line, f"proof line {number}")
    except NoteError as e:
        raise WitnessError(str(e)) from None
    if len(raw) != hashing.HASH_SIZE:
        raise WitnessError(f"proof line {number} is {len(raw)} bytes, not {hashing.HASH_SIZE}")
    return raw


def size_body(size: int) -> bytes:
    """A 409 answer's body: the witness's tree size for the origin, then a newline."""
    return f"{size}\n".encode()


def parse_size_body(body: bytes) -> int:
    """The size a 409 answer states (``text/x.tlog.size``)."""
    if len(body) > 21 or not body.endswith(b"\n"):
        raise WitnessError("a size answer is a decimal number and a newline")
    return parse_size(body[:-1].decode("ascii", "replace"), "the witness's size")


def cosignature_body(signatures: Sequence[notes.Signature]) -> bytes:
    """A 200 answer's body: one note signature line per cosignature."""
    return "".join(signature.line() for signature in signatures).encode()


def parse_cosignatures(checkpoint_text: str, body: bytes) -> tuple[notes.Signature, ...]:
    """The signature lines of a 200 answer, read as the spec suggests: appended to the
    checkpoint and parsed as a note (nothing verified here)."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise WitnessError(f"the answer is {len(body)} bytes, over {MAX_RESPONSE_BYTES}")
    if not body.endswith(b"\n") or b"\n\n" in body or body.startswith(b"\n"):
        raise WitnessError("the answer is not a sequence of signature lines")
    try:
        note = notes.parse_note(checkpoint_text.encode() + b"\n" + body)
    except NoteError as e:
        raise WitnessError(f"the answer's signature lines: {e}") from None
    return note.signatures


def verified_cosignatures(
    checkpoint_text: str,
    signatures: Sequence[notes.Signature],
    witnesses: Sequence[notes.Verifier],
) -> list[notes.Signature]:
    """The cosignatures of ``checkpoint_text`` by one of ``witnesses`` (cosignature/v1
    keys) that verify, one per witness; every other line is ignored, as the spec asks."""
    known = {(w.name, w.key_id): w for w in witnesses if w.type == notes.COSIGNATURE_V1}
    kept: dict[tuple[str, bytes], notes.Signature] = {}
    for signature in signatures:
        key = (signature.name, signature.key_id)
        verifier = known.get(key)
        if verifier is None or key in kept:
            continue
        try:
            verifier.verify(checkpoint_text, signature)
        except NoteError:
            continue
        kept[key] = signature
    return list(kept.values())


@dataclasses.dataclass(frozen=True)
class LogState:
    """What a witness holds of one log: the latest tree it cosigned."""

    size: int
    root_hash: bytes


@dataclasses.dataclass(frozen=True)
class WitnessKey:
    """The witness's own key: its name and Ed25519 private key (cosignature/v1)."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> notes.Verifier:
        """The key's cosignature/v1 verifier (its vkey is what a root's policy lists)."""
        return notes.verifier_for(self.name, self.private_key, notes.COSIGNATURE_V1)


@dataclasses.dataclass(frozen=True)
class Accepted:
    """Cosign: the log's new state (to persist BEFORE answering) and the 200 body."""

    origin: str
    state: LogState
    body: bytes


@dataclasses.dataclass(frozen=True)
class Refused:
    """Refuse with ``status``; ``size`` is the witness's size for a 409 (its body)."""

    status: int
    reason: str
    size: int | None = None


def decide(
    body: bytes,
    logs: Mapping[str, Sequence[notes.Verifier]],
    states: Mapping[str, LogState],
    witness: WitnessKey,
    now: int,
) -> Accepted | Refused:
    """A witness's answer to an add-checkpoint ``body``, given the logs it witnesses (origin
    to trusted Ed25519 keys), its state per origin and the time ``now`` (POSIX seconds),
    in the order of the spec's checks."""
    try:
        request = parse_request(body)
        note = notes.parse_note(request.note)
        checkpoint = checkpoints.parse_checkpoint(note.text)
    except (WitnessError, NoteError) as e:
        return Refused(400, f"malformed request: {e}")
    verifiers = logs.get(checkpoint.origin)
    if verifiers is None:
        return Refused(404, f"this witness does not witness the log {checkpoint.origin!r}")
    try:
        notes.verify_note(note, verifiers)
    except NoteError as e:
        return Refused(403, f"the checkpoint's signature: {e}")
    state = states.get(checkpoint.origin, LogState(0, hashing.EMPTY_ROOT))
    refused = _check_growth(request, checkpoint, state)
    if refused is not None:
        return refused
    cosignature = notes.cosign(note.text, witness.name, witness.private_key, now)
    new_state = LogState(checkpoint.size, checkpoint.root_hash)
    return Accepted(checkpoint.origin, new_state, cosignature_body([cosignature]))


def _check_growth(
    request: AddCheckpoint, checkpoint: Checkpoint, state: LogState
) -> Refused | None:
    """The spec's size and consistency checks: None when the checkpoint extends (or is)
    the tree the witness holds."""
    if request.old_size > checkpoint.size:
        return Refused(
            400, f"the old size {request.old_size} is over the checkpoint's {checkpoint.size}"
        )
    if request.old_size != state.size:
        return Refused(
            409,
            f"the old size {request.old_size} is not this witness's size {state.size} "
            f"for {checkpoint.origin}",
            state.size,
        )
    if checkpoint.size == state.size and checkpoint.root_hash != state.root_hash:
        return Refused(
            409,
            f"a fork: the witness cosigned another root hash for size {state.size} of "
            f"{checkpoint.origin}",
            state.size,
        )
    try:
        hashing.verify_consistency(
            state.size, checkpoint.size, state.root_hash, checkpoint.root_hash, request.proof
        )
    except hashing.ProofError as e:
        return Refused(
            422,
            f"the consistency proof from size {state.size} to {checkpoint.size} does not "
            f"verify: {e}",
        )
    return None
